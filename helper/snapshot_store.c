/* snapshot_store.c: the copies of other nodes' snapshots held here (see snapshot_store.h):
 * a list, newest first, of buffers from malloc. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot_store.h"

static bool same_key(const struct held_copy *c, const struct wire_snapshot_put *put)
{
	return c->node == put->node && c->incarnation == put->incarnation && c->rank == put->rank &&
	       c->step == put->step && strcmp(c->region, put->region) == 0;
}

int snapshot_store_reserve(struct snapshot_store *st, const struct wire_snapshot_put *put,
			   uint8_t **dst)
{
	for (struct held_copy *c = st->head; c; c = c->next)
		if (same_key(c, put)) {
			if (!c->complete)
				return -EBUSY; /* its bytes are being received */
			snapshot_store_remove(st, c);
			break;
		}
	struct held_copy *c = calloc(1, sizeof(*c));
	if (c)
		c->data = malloc(put->size);
	if (!c || !c->data) {
		free(c);
		return -ENOMEM;
	}
	c->node = put->node;
	c->incarnation = put->incarnation;
	c->rank = put->rank;
	strcpy(c->region, put->region);
	strcpy(c->shard_key, put->shard_key);
	c->step = put->step;
	c->size = put->size;
	c->next = st->head;
	st->head = c;
	st->bytes += c->size;
	st->count++;
	*dst = c->data;
	return 0;
}

struct held_copy *snapshot_store_find(struct snapshot_store *st, const uint8_t *dst)
{
	for (struct held_copy *c = st->head; c; c = c->next)
		if (c->data == dst)
			return c;
	return NULL;
}

const struct held_copy *snapshot_store_find_shard(const struct snapshot_store *st,
						  const char *shard_key, const char *region,
						  uint64_t step)
{
	for (const struct held_copy *c = st->head; c; c = c->next)
		if (c->complete && c->step == step && strcmp(c->shard_key, shard_key) == 0 &&
		    strcmp(c->region, region) == 0)
			return c;
	return NULL;
}

void snapshot_store_remove(struct snapshot_store *st, struct held_copy *c)
{
	for (struct held_copy **pos = &st->head; *pos; pos = &(*pos)->next)
		if (*pos == c) {
			*pos = c->next;
			st->bytes -= c->size;
			st->count--;
			free(c->data);
			free(c);
			return;
		}
}

uint64_t snapshot_store_release(struct snapshot_store *st, snapshot_store_drop_fn *drop, void *arg)
{
	uint64_t freed = 0;
	struct held_copy **pos = &st->head;
	while (*pos) {
		struct held_copy *c = *pos;
		if (!c->complete || !drop(c, arg)) {
			pos = &c->next;
			continue;
		}
		*pos = c->next;
		freed += c->size;
		st->bytes -= c->size;
		st->count--;
		free(c->data);
		free(c);
	}
	return freed;
}

void snapshot_store_clear(struct snapshot_store *st)
{
	while (st->head)
		snapshot_store_remove(st, st->head);
}
