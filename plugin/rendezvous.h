/*
 * rendezvous.h: the step's rendezvous, started by the plugin in srun.
 *
 * The helpers of a step must find each other before they can watch each other, and nothing
 * tells a node where the others' helpers listen. srun knows the step before it launches it
 * and runs on a host every node can reach (slurmd learns its address from the launch
 * request), so in slurm_spank_local_user_init the plugin starts `lcrd --rendezvous-server`
 * there, fully detached from srun, listening on a fresh TCP port, and puts the port and a
 * random token for this step in srun's environment (LCR_RENDEZVOUS, LCR_RENDEZVOUS_TOKEN):
 * setenv() there reaches the remote plugin and the tasks. Each node's helper registers with
 * it; once all have, it sends them the table and exits, and the mesh runs without it. It
 * also exits with srun, which it watches through a pidfd opened before the fork.
 */
#ifndef LCR_PLUGIN_RENDEZVOUS_H
#define LCR_PLUGIN_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

#include "internal/site_config.h"

/* Starts the rendezvous of job_id.step_id with the site's lcrd and munged, and exports its
 * port and token. 0, or -errno with a message starting with "lcr: " in err. */
int rendezvous_start(const struct lcr_site_config *site, uint32_t job_id, uint32_t step_id,
		     const char *log_level, char *err, size_t errlen);

#endif
