/* rendezvous_server.h: `lcrd --rendezvous-server`, the step's meeting point. The plugin
 * starts it in srun, detached, before the step launches (see plugin/rendezvous.c); foreground
 * tests start it by hand. It accepts one registration per node of the step, each with the
 * step's token and a MUNGE credential of the job's user for this job and step, answers each
 * with its own credential, and once every node has registered sends all of them the table
 * of the step's nodes and their mesh addresses. Then it exits: the mesh runs without it. It
 * also exits when srun does (--parent-pidfd), on SIGTERM, and after --rendezvous-wait. */
#ifndef LCR_HELPER_RENDEZVOUS_SERVER_H
#define LCR_HELPER_RENDEZVOUS_SERVER_H

#include "loop/options.h"

/* Runs the server to its end: 0 when the table went out to every node, else -errno. */
int rendezvous_server_run(const struct lcrd_options *o);

#endif
