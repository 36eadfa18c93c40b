/* rendezvous_client.h: how a helper joins its step's mesh. It connects to the step's
 * rendezvous (started by the plugin in srun, or by hand in foreground tests), opens its
 * mesh listener on the local address of that connection (an address the other nodes can
 * reach, in every network layout the step's launch works in), registers with its node id,
 * name and listener, authenticated with MUNGE and the step's token, and waits for the table
 * of every node of the step. Then the rendezvous is no longer needed: mesh_start() takes
 * over. A refusal, or no table within --rendezvous-wait, leaves this helper alone. */
#ifndef LCR_HELPER_RENDEZVOUS_CLIENT_H
#define LCR_HELPER_RENDEZVOUS_CLIENT_H

struct mesh;

/* Starts joining through the rendezvous at target ("HOST:PORT") with token. 0 or -errno
 * (target cannot be resolved). */
int rendezvous_client_start(struct mesh *m, const char *target, const char *token);

/* Stops joining (if still under way) and frees. */
void rendezvous_client_destroy(struct mesh *m);

#endif
