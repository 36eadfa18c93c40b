/* lcrctl_ckpt.h: `lcrctl ckpt list | show | verify`, which read a checkpoint directory
 * themselves, with no helper: a user on a login node can list and verify the checkpoints of
 * a job that is not running. (`lcrctl ckpt now` asks the helpers: lcrctl.c.) Each returns
 * lcrctl's exit status: 0, or 1 after printing why on stderr (verify: the checkpoint is
 * damaged, each problem printed with its file and offset). */
#ifndef LCR_HELPER_LCRCTL_CKPT_H
#define LCR_HELPER_LCRCTL_CKPT_H

/* Every checkpoint of the job's checkpoint directory dir, complete or not. */
int lcrctl_ckpt_list(const char *dir);

/* One checkpoint: `which` is its step (in dir) or the path of its directory. */
int lcrctl_ckpt_show(const char *dir, const char *which);

/* Reads every data file of a checkpoint and checks it against the manifest. */
int lcrctl_ckpt_verify(const char *dir, const char *which);

#endif
