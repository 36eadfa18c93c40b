/* kv.h: a small key-value store and named barriers through the helper, for rendezvous
 * between the ranks it serves (for instance to exchange an NCCL unique id). Keys are names
 * of up to WIRE_NAME_MAX bytes, values blobs of up to WIRE_KV_VALUE_MAX bytes; a get can
 * wait for its key with a timeout. A barrier is named and counts its participants; it
 * releases everyone when the last one arrives and can then be used again. Waiting requests
 * are parked here and answered later, so the event loop never blocks. */
#ifndef LCR_HELPER_KV_H
#define LCR_HELPER_KV_H

struct lcrd;
struct client;
struct kv;

/* Sets up the store and registers its requests (KV_PUT, KV_GET, BARRIER) with the control
 * socket: 0 or -errno. */
int kv_create(struct lcrd *d, struct kv **out);
/* Answers every parked request with -ECANCELED and frees the store. */
void kv_destroy(struct kv *kv);

/* Drops the parked requests of a closing session. */
void kv_release_client(struct lcrd *d, struct client *c);

#endif
