/* wire_cursor.h: the bounded writer and reader that every payload codec of lib/wire_*.c is
 * made of, and WIRE_FLAT_CODEC, which turns a message's description (wire_describe.h) into
 * its encoder and decoder. Each put or get checks the room left first and latches the first
 * error, so a codec is a straight list of fields followed by one check. Static inline
 * functions only: no global state (the plugin runs this inside slurmstepd), and each link's
 * file compiles them in. Private to lib/wire_*.c. */
#ifndef LCR_LIB_WIRE_CURSOR_H
#define LCR_LIB_WIRE_CURSOR_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "internal/wire.h"

struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	int err;
};

struct wire_reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	int err;
};

#define WIRE_WRITER(b, c) { .buf = (b), .cap = (c), .len = 0, .err = 0 }
#define WIRE_READER(b, l) { .buf = (b), .len = (l), .pos = 0, .err = 0 }

static inline void wire_store_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t wire_load_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* --- bounded writer --- */

/* Latches err unless an error is latched already. */
static inline void wire_writer_fail(struct wire_writer *w, int err)
{
	if (!w->err)
		w->err = err;
}

static inline uint8_t *wire_writer_room(struct wire_writer *w, size_t n)
{
	if (w->err)
		return NULL;
	if (w->cap - w->len < n) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	uint8_t *p = w->buf + w->len;
	w->len += n;
	return p;
}

static inline void wire_put_u16(struct wire_writer *w, uint16_t v)
{
	uint8_t *p = wire_writer_room(w, 2);
	if (p)
		wire_store_le(p, v, 2);
}

static inline void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	uint8_t *p = wire_writer_room(w, 4);
	if (p)
		wire_store_le(p, v, 4);
}

static inline void wire_put_u64(struct wire_writer *w, uint64_t v)
{
	uint8_t *p = wire_writer_room(w, 8);
	if (p)
		wire_store_le(p, v, 8);
}

static inline void wire_put_bytes(struct wire_writer *w, const void *src, size_t n)
{
	uint8_t *p = wire_writer_room(w, n);
	if (p && n)
		memcpy(p, src, n);
}

/* A string of at most `max` bytes: u16 length, then the bytes. */
static inline void wire_put_string(struct wire_writer *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		wire_writer_fail(w, -EINVAL);
		return;
	}
	wire_put_u16(w, (uint16_t)n);
	wire_put_bytes(w, s, n);
}

/* A count of at most `max` (else -EINVAL): true when the elements may follow. */
static inline bool wire_put_count(struct wire_writer *w, uint32_t count, uint32_t max)
{
	if (count > max) {
		wire_writer_fail(w, -EINVAL);
		return false;
	}
	wire_put_u32(w, count);
	return true;
}

static inline void wire_put_blob(struct wire_writer *w, const uint8_t *data, uint32_t n,
				 uint32_t max)
{
	if (wire_put_count(w, n, max))
		wire_put_bytes(w, data, n);
}

static inline void wire_put_u32s(struct wire_writer *w, const uint32_t *values, uint32_t count,
				 uint32_t max)
{
	if (wire_put_count(w, count, max))
		for (uint32_t i = 0; i < count; i++)
			wire_put_u32(w, values[i]);
}

static inline int wire_writer_finish(const struct wire_writer *w)
{
	return w->err ? w->err : (int)w->len;
}

/* --- bounded reader --- */

static inline const uint8_t *wire_reader_take(struct wire_reader *r, size_t n)
{
	if (r->err)
		return NULL;
	if (r->len - r->pos < n) {
		r->err = -EBADMSG;
		return NULL;
	}
	const uint8_t *p = r->buf + r->pos;
	r->pos += n;
	return p;
}

static inline uint16_t wire_get_u16(struct wire_reader *r)
{
	const uint8_t *p = wire_reader_take(r, 2);
	return p ? (uint16_t)wire_load_le(p, 2) : 0;
}

static inline uint32_t wire_get_u32(struct wire_reader *r)
{
	const uint8_t *p = wire_reader_take(r, 4);
	return p ? (uint32_t)wire_load_le(p, 4) : 0;
}

static inline uint64_t wire_get_u64(struct wire_reader *r)
{
	const uint8_t *p = wire_reader_take(r, 8);
	return p ? wire_load_le(p, 8) : 0;
}

static inline void wire_get_bytes(struct wire_reader *r, void *dst, size_t n)
{
	const uint8_t *p = wire_reader_take(r, n);
	if (p && n)
		memcpy(dst, p, n);
}

/* A string into dst[max + 1]; a length over max or an embedded NUL is malformed. */
static inline void wire_get_string(struct wire_reader *r, char *dst, size_t max)
{
	dst[0] = '\0';
	uint16_t n = wire_get_u16(r);
	if (r->err)
		return;
	if (n > max) {
		r->err = -EBADMSG;
		return;
	}
	const uint8_t *p = wire_reader_take(r, n);
	if (!p)
		return;
	if (memchr(p, '\0', n)) {
		r->err = -EBADMSG;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* A count of at most `max`; a larger one is malformed and reads as 0. */
static inline uint32_t wire_get_count(struct wire_reader *r, uint32_t max)
{
	uint32_t count = wire_get_u32(r);
	if (r->err == 0 && count > max) {
		r->err = -EBADMSG;
		return 0;
	}
	return count;
}

static inline void wire_get_blob(struct wire_reader *r, uint8_t *dst, uint32_t *n, uint32_t max)
{
	*n = wire_get_count(r, max);
	wire_get_bytes(r, dst, *n);
}

static inline void wire_get_u32s(struct wire_reader *r, uint32_t *values, uint32_t *count,
				 uint32_t max)
{
	*count = wire_get_count(r, max);
	for (uint32_t i = 0; i < *count && r->err == 0; i++)
		values[i] = wire_get_u32(r);
}

static inline int wire_reader_finish(const struct wire_reader *r)
{
	if (r->err)
		return r->err;
	return r->pos == r->len ? 0 : -EBADMSG;
}

/* --- codecs from descriptions: each F(kind, ...) of WIRE_FIELDS_k becomes a statement on
 * the writer `w` or reader `r` and the struct `m` of the function it expands in --- */

#define WIRE_PUT_u16(name) wire_put_u16(w, m->name);
#define WIRE_PUT_u32(name) wire_put_u32(w, m->name);
#define WIRE_PUT_u64(name) wire_put_u64(w, m->name);
#define WIRE_PUT_i32(name) wire_put_u32(w, (uint32_t)m->name);
#define WIRE_PUT_str(name, max) wire_put_string(w, m->name, max);
#define WIRE_PUT_bytes(name, n) wire_put_bytes(w, m->name, n);
#define WIRE_PUT_blob(name, count, max) wire_put_blob(w, m->name, m->count, max);
#define WIRE_PUT_u32s(name, count, max) wire_put_u32s(w, m->name, m->count, max);
#define WIRE_PUT_parts(name, count, max, type)                                        \
	if (wire_put_count(w, m->count, max))                                          \
		for (uint32_t i = 0; i < m->count; i++)                                 \
			wire_put_##type(w, &m->name[i]);
#define WIRE_PUT_part(name, type) wire_put_##type(w, &m->name);
#define WIRE_PUT_valid(check)
#define WIRE_PUT_valid_decoded(check)
#define WIRE_PUT(kind, ...) WIRE_PUT_##kind(__VA_ARGS__)

#define WIRE_GET_u16(name) m->name = wire_get_u16(r);
#define WIRE_GET_u32(name) m->name = wire_get_u32(r);
#define WIRE_GET_u64(name) m->name = wire_get_u64(r);
#define WIRE_GET_i32(name) m->name = (int32_t)wire_get_u32(r);
#define WIRE_GET_str(name, max) wire_get_string(r, m->name, max);
#define WIRE_GET_bytes(name, n) wire_get_bytes(r, m->name, n);
#define WIRE_GET_blob(name, count, max) wire_get_blob(r, m->name, &m->count, max);
#define WIRE_GET_u32s(name, count, max) wire_get_u32s(r, m->name, &m->count, max);
#define WIRE_GET_parts(name, count, max, type)                                        \
	m->count = wire_get_count(r, max);                                              \
	for (uint32_t i = 0; i < m->count && r->err == 0; i++)                          \
		wire_get_##type(r, &m->name[i]);
#define WIRE_GET_part(name, type) wire_get_##type(r, &m->name);
#define WIRE_GET_valid(check)
#define WIRE_GET_valid_decoded(check)
#define WIRE_GET(kind, ...) WIRE_GET_##kind(__VA_ARGS__)

/* The checks, as `check(m) && ` terms of a condition that ends in `true`. */
#define WIRE_ENCODE_CHECK_valid(check) check(m) &&
#define WIRE_ENCODE_CHECK(kind, ...) WIRE_ENCODE_CHECK_##kind(__VA_ARGS__)
#define WIRE_DECODE_CHECK_valid(check) check(m) &&
#define WIRE_DECODE_CHECK_valid_decoded(check) check(m) &&
#define WIRE_DECODE_CHECK(kind, ...) WIRE_DECODE_CHECK_##kind(__VA_ARGS__)
/* Every field kind but the checks adds no term. */
#define WIRE_NO_CHECK_TERM(...)
#define WIRE_ENCODE_CHECK_u16 WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_u32 WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_u64 WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_i32 WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_str WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_bytes WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_blob WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_u32s WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_parts WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_part WIRE_NO_CHECK_TERM
#define WIRE_ENCODE_CHECK_valid_decoded WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_u16 WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_u32 WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_u64 WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_i32 WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_str WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_bytes WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_blob WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_u32s WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_parts WIRE_NO_CHECK_TERM
#define WIRE_DECODE_CHECK_part WIRE_NO_CHECK_TERM

/* wire_encode_k and wire_decode_k of a flat message: the encoder checks first, then writes
 * every field; the decoder reads every field, then checks, then wants no byte left. */
#define WIRE_FLAT_CODEC(k)                                                              \
	int wire_encode_##k(const struct wire_##k *m, uint8_t *buf, size_t cap)          \
	{                                                                               \
		struct wire_writer writer = WIRE_WRITER(buf, cap), *w = &writer;        \
		if (!(WIRE_FIELDS_##k(WIRE_ENCODE_CHECK) true))                          \
			return -EINVAL;                                                 \
		WIRE_FIELDS_##k(WIRE_PUT)                                               \
		return wire_writer_finish(w);                                           \
	}                                                                               \
	int wire_decode_##k(const uint8_t *buf, size_t len, struct wire_##k *m)          \
	{                                                                               \
		struct wire_reader reader = WIRE_READER(buf, len), *r = &reader;        \
		WIRE_FIELDS_##k(WIRE_GET)                                               \
		if (r->err == 0 && !(WIRE_FIELDS_##k(WIRE_DECODE_CHECK) true))           \
			return -EBADMSG;                                                \
		return wire_reader_finish(r);                                           \
	}

/* wire_put_type and wire_get_type of a part described by WIRE_FIELDS_type. */
#define WIRE_FLAT_PART_CODEC(type)                                                      \
	static void wire_put_##type(struct wire_writer *w, const struct wire_##type *m)  \
	{                                                                               \
		WIRE_FIELDS_##type(WIRE_PUT)                                            \
	}                                                                               \
	static void wire_get_##type(struct wire_reader *r, struct wire_##type *m)        \
	{                                                                               \
		WIRE_FIELDS_##type(WIRE_GET)                                            \
	}

#endif
