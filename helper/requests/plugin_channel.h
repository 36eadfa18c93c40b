/* plugin_channel.h: the socketpair to the spank_lcr plugin inside slurmstepd (--plugin-fd).
 * lcrd sends READY once its control socket listens; the plugin sends TASK_STARTED,
 * TASK_EXITED and SHUTDOWN. End of file or an error on the channel means the step is over:
 * lcrd shuts down cleanly and exits 0. */
#ifndef LCR_HELPER_PLUGIN_CHANNEL_H
#define LCR_HELPER_PLUGIN_CHANNEL_H

struct lcrd;

/* Checks that fd is a socket and watches it: 0 or -errno (logged). */
int plugin_channel_open(struct lcrd *d, int fd);
/* Tells the plugin the helper listens on d->dir.socket_path: 0 or -errno (logged). */
int plugin_channel_send_ready(struct lcrd *d);
void plugin_channel_close(struct lcrd *d);

#endif
