/* jobkv.h: the job-wide key-value store, a service of lcrd (doc/mesh.md, "The job-wide
 * store"). Every helper of the step holds a copy; the store's leader, the live helper that
 * has been in the mesh longest (the lowest node id among the step's first helpers, then
 * replacements in the order they joined), orders every request. A rank asks its own helper
 * (STORE_REQUEST), which forwards the request to the leader over the mesh; the leader
 * answers a write once every live helper has applied it, and a read once every write before
 * it is on every live helper, so that no answered write is lost with any one node and each
 * key reads as if there were one copy. A helper that is fenced answers nothing more. */
#ifndef LCR_HELPER_JOBKV_H
#define LCR_HELPER_JOBKV_H

struct lcrd;
struct jobkv;

/* Sets up the store and registers its request (STORE_REQUEST) with the control socket:
 * 0 or -errno. */
int jobkv_create(struct lcrd *d, struct jobkv **out);
/* Attaches it to the mesh (after mesh_create): its WIRE_JOBKV_* messages, the membership
 * events (a new leader, a replacement to copy the store to), the fence. 0 or -errno. */
int jobkv_subscribe(struct lcrd *d);
/* Answers every request in flight with -ECANCELED and frees the store. */
void jobkv_destroy(struct jobkv *kv);

#endif
