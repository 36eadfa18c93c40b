/* loop.h: lcrd's one event loop. Descriptors are watched with poll(2); timers are one-shot
 * deadlines on CLOCK_MONOTONIC, kept in a list sorted by deadline (a periodic timer re-arms
 * itself from its callback). Callbacks may add or remove descriptors and timers, including
 * their own, while the loop dispatches. A watch may be paused for a while: for a descriptor
 * that stays ready while nothing can be done with it (a listener when the process is out of
 * descriptors), which would otherwise wake the loop at once, for ever. */
#ifndef LCR_HELPER_LOOP_H
#define LCR_HELPER_LOOP_H

#include <stdint.h>

struct loop;

typedef void (*loop_fd_cb)(struct loop *loop, int fd, short revents, void *arg);
typedef void (*loop_timer_cb)(struct loop *loop, void *arg);

int loop_create(struct loop **out);
void loop_destroy(struct loop *loop);

/* Watches fd for `events` (POLLIN...). One registration per fd: 0 or -EEXIST / -ENOMEM. */
int loop_add_fd(struct loop *loop, int fd, short events, loop_fd_cb cb, void *arg);
/* Stops watching fd (the caller closes it). Unknown fds are ignored. */
void loop_remove_fd(struct loop *loop, int fd);
/* Does not watch fd for delay_ms, then watches it again as before (a later pause replaces
 * an earlier one). Unknown fds are ignored. */
void loop_pause_fd(struct loop *loop, int fd, uint64_t delay_ms);

/* Calls cb once, delay_ms from now. *id_out (may be NULL) names it for loop_cancel_timer;
 * ids are never 0, so 0 can mean "no timer". 0 or -ENOMEM. */
int loop_add_timer(struct loop *loop, uint64_t delay_ms, loop_timer_cb cb, void *arg,
		   uint64_t *id_out);
/* Cancels a pending timer; a fired or unknown id is ignored. */
void loop_cancel_timer(struct loop *loop, uint64_t id);

/* Runs until loop_stop: 0, or -errno if poll fails. */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop);

/* Asked to stop, for `reason`: the owner of the loop (lcrd's main) learns why. */
typedef void (*loop_stop_cb)(struct loop *loop, const char *reason, void *arg);
/* Sets who is told of a stop request (one owner; a later call replaces it). */
void loop_on_stop_request(struct loop *loop, loop_stop_cb cb, void *arg);
/* Any module's way to end the process: tells the owner why, then stops the loop after the
 * current round. */
void loop_request_stop(struct loop *loop, const char *reason);

#endif
