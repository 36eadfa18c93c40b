/* lcrctl_wait.h: `lcrctl wait`, which waits for a step's outcome file and exits with the
 * training's status (lcrctl(1)). */
#ifndef LCR_HELPER_LCRCTL_WAIT_H
#define LCR_HELPER_LCRCTL_WAIT_H

/* dir: --ckpt-dir or NULL ($LCR_CKPT_DIR then); job: the job id text; step: NULL for the
 * job's highest step with an outcome; timeout: seconds text or NULL (300). Returns lcrctl's
 * exit status: the training's, 124 when no final outcome came in time, 1 or 2 on errors. */
int lcrctl_wait(const char *dir, const char *job, const char *step, const char *timeout);

#endif
