/* snapshot_store.c: the copies of other nodes' snapshots held here (see snapshot_store.h):
 * a list, newest first, of buffers from malloc. A released copy that is still pinned stays
 * in the list (and counts in `bytes`) until its last reader unpins it. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "services/snapshot_store.h"

static bool same_key(const struct held_copy *c, const struct wire_snapshot_put *put)
{
	return c->node == put->node && c->incarnation == put->incarnation && c->rank == put->rank &&
	       c->step == put->step && strcmp(c->region, put->region) == 0;
}

/* A new copy for `put` whose bytes are `data`, first in the list (replacing a complete one
 * with the same key): NULL when one with that key is being received (*rc -EBUSY) or memory
 * is short (*rc -ENOMEM). */
static struct held_copy *insert(struct snapshot_store *st, const struct wire_snapshot_put *put,
				uint8_t *data, int *rc)
{
	for (struct held_copy *c = st->head; c; c = c->next)
		if (!c->released && same_key(c, put)) {
			if (!c->complete) {
				*rc = -EBUSY; /* its bytes are being received */
				return NULL;
			}
			snapshot_store_remove(st, c);
			break;
		}
	struct held_copy *c = data ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		*rc = -ENOMEM;
		return NULL;
	}
	c->data = data;
	c->node = put->node;
	c->incarnation = put->incarnation;
	c->rank = put->rank;
	c->dp_size = put->dp_size;
	strcpy(c->region, put->region);
	c->kind = (enum wire_region_kind)put->region_kind;
	strcpy(c->shard_key, put->shard_key);
	c->step = put->step;
	c->size = put->size;
	c->next = st->head;
	st->head = c;
	st->bytes += c->size;
	st->count++;
	return c;
}

int snapshot_store_reserve(struct snapshot_store *st, const struct wire_snapshot_put *put,
			   uint8_t **dst)
{
	int rc = 0;
	uint8_t *data = malloc(put->size ? put->size : 1);
	struct held_copy *c = insert(st, put, data, &rc);
	if (!c) {
		free(data);
		return rc;
	}
	*dst = c->data;
	return 0;
}

int snapshot_store_adopt(struct snapshot_store *st, const struct wire_snapshot_put *put,
			 uint8_t *data, uint64_t xxh3)
{
	int rc = 0;
	struct held_copy *c = insert(st, put, data, &rc);
	if (!c)
		return rc;
	c->xxh3 = xxh3;
	c->complete = true;
	return 0;
}

struct held_copy *snapshot_store_find(struct snapshot_store *st, const uint8_t *dst)
{
	for (struct held_copy *c = st->head; c; c = c->next)
		if (c->data == dst && !c->released)
			return c;
	return NULL;
}

struct held_copy *snapshot_store_find_shard(const struct snapshot_store *st,
					    const char *shard_key, const char *region,
					    uint64_t step, uint32_t rank)
{
	for (struct held_copy *c = st->head; c; c = c->next)
		if (c->complete && !c->released && c->step == step &&
		    (rank == WIRE_NO_RANK || c->rank == rank) &&
		    strcmp(c->shard_key, shard_key) == 0 && strcmp(c->region, region) == 0)
			return c;
	return NULL;
}

bool snapshot_store_superseded(const struct snapshot_store *st, const struct held_copy *c)
{
	for (const struct held_copy *o = st->head; o; o = o->next)
		if (o != c && o->complete && !o->released && o->node == c->node &&
		    o->rank == c->rank && o->step == c->step && o->incarnation > c->incarnation &&
		    strcmp(o->region, c->region) == 0)
			return true;
	return false;
}

/* Unlinks and frees the copy at *pos. */
static void free_at(struct snapshot_store *st, struct held_copy **pos)
{
	struct held_copy *c = *pos;
	*pos = c->next;
	st->bytes -= c->size;
	st->count--;
	free(c->data);
	free(c);
}

void snapshot_store_remove(struct snapshot_store *st, struct held_copy *c)
{
	for (struct held_copy **pos = &st->head; *pos; pos = &(*pos)->next)
		if (*pos == c) {
			if (c->readers)
				c->released = true;
			else
				free_at(st, pos);
			return;
		}
}

void snapshot_store_pin(struct held_copy *c)
{
	c->readers++;
}

void snapshot_store_unpin(struct snapshot_store *st, struct held_copy *c)
{
	if (c->readers && --c->readers == 0 && c->released)
		snapshot_store_remove(st, c);
}

uint64_t snapshot_store_release(struct snapshot_store *st, snapshot_store_drop_fn *drop, void *arg)
{
	uint64_t freed = 0;
	struct held_copy **pos = &st->head;
	while (*pos) {
		struct held_copy *c = *pos;
		if (!c->complete || c->released || !drop(c, arg)) {
			pos = &c->next;
			continue;
		}
		if (c->readers) {
			c->released = true;
			pos = &c->next;
			continue;
		}
		freed += c->size;
		free_at(st, pos);
	}
	return freed;
}

void snapshot_store_clear(struct snapshot_store *st)
{
	while (st->head)
		free_at(st, &st->head);
}
