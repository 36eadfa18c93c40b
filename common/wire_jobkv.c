/* wire_jobkv.c: the job-wide store's payloads (wire_jobkv.h), every one from its
 * description, with the rules the descriptions name: an operation and a change are known,
 * a key is not empty, a status is not positive. */
#include "config.h"

#include <stdbool.h>

#include "internal/wire.h"
#include "wire_cursor.h"

static bool wire_store_request_valid(const struct wire_store_request *m)
{
	return m->op >= WIRE_STORE_SET && m->op <= WIRE_STORE_OP_MAX && m->key[0] != '\0';
}

static bool wire_jobkv_forward_valid(const struct wire_jobkv_forward *m)
{
	return wire_store_request_valid(&m->request);
}

static bool wire_jobkv_result_valid(const struct wire_jobkv_result *m)
{
	return m->status <= 0;
}

static bool wire_jobkv_apply_valid(const struct wire_jobkv_apply *m)
{
	return m->change >= WIRE_JOBKV_STORED && m->change <= WIRE_JOBKV_DELETED &&
	       m->key[0] != '\0';
}

WIRE_FLAT_PART_CODEC(store_request)
WIRE_FLAT_PART_CODEC(store_reply)
WIRE_JOBKV_MESSAGES(WIRE_FLAT_CODEC)
