/* wire_describe.h: how the wire headers describe a flat message once. Included by the
 * headers of each link (wire_plugin.h, wire_control.h, wire_mesh.h, wire_mesh_ckpt.h,
 * wire_xfer.h); include internal/wire.h, never this file alone.
 *
 * A message kind `k` is flat when its payload is a list of fields in the order of its
 * struct. It is described by one macro, WIRE_FIELDS_k(F), that names each field in wire
 * order as one of:
 *
 *     F(u16, name)  F(u32, name)  F(u64, name)    unsigned integers
 *     F(i32, name)                                a signed one, sent as its u32 bits
 *     F(str, name, max)                  char name[max + 1]: u16 count, the bytes
 *     F(bytes, name, n)                  uint8_t name[n]: exactly n bytes
 *     F(blob, name, count, max)          uint32_t count; uint8_t name[max]: u32 count, bytes
 *     F(u32s, name, count, max)          uint32_t count; uint32_t name[max]: u32 count, each
 *     F(parts, name, count, max, type)   uint32_t count; struct wire_type name[max]:
 *                                        u32 count, then each part
 *     F(part, name, type)                struct wire_type name
 *     F(valid, check)                    bool check(const struct wire_k *): the encoder
 *                                        refuses (-EINVAL) and the decoder rejects
 *                                        (-EBADMSG) a message that fails it
 *     F(valid_decoded, check)            the same, checked by the decoder only
 *
 * A part (a record inside a message) is described the same way, without checks, or coded by
 * hand where its rules need more. From a description, WIRE_FLAT_STRUCT(k) defines
 * struct wire_k, WIRE_FLAT_DECLARE(k) also declares wire_encode_k and wire_decode_k, and
 * WIRE_FLAT_CODEC(k) (common/wire_cursor.h) defines them. Each link lists its message kinds in
 * one macro, WIRE_<LINK>_MESSAGES(X), from which its structs, codecs, the codec unit tests'
 * tables and the fuzz target's table all come. */
#ifndef LCR_INTERNAL_WIRE_DESCRIBE_H
#define LCR_INTERNAL_WIRE_DESCRIBE_H

#include <stddef.h>
#include <stdint.h>

#define WIRE_MEMBER_u16(name) uint16_t name;
#define WIRE_MEMBER_u32(name) uint32_t name;
#define WIRE_MEMBER_u64(name) uint64_t name;
#define WIRE_MEMBER_i32(name) int32_t name;
#define WIRE_MEMBER_str(name, max) char name[(max) + 1];
#define WIRE_MEMBER_bytes(name, n) uint8_t name[n];
#define WIRE_MEMBER_blob(name, count, max) uint32_t count; uint8_t name[max];
#define WIRE_MEMBER_u32s(name, count, max) uint32_t count; uint32_t name[max];
#define WIRE_MEMBER_parts(name, count, max, type) uint32_t count; struct wire_##type name[max];
#define WIRE_MEMBER_part(name, type) struct wire_##type name;
#define WIRE_MEMBER_valid(check)
#define WIRE_MEMBER_valid_decoded(check)
#define WIRE_MEMBER(kind, ...) WIRE_MEMBER_##kind(__VA_ARGS__)

/* struct wire_k, its members in wire order. */
#define WIRE_FLAT_STRUCT(k) struct wire_##k { WIRE_FIELDS_##k(WIRE_MEMBER) };

/* struct wire_k and its encoder and decoder. */
#define WIRE_FLAT_DECLARE(k)                                                            \
	WIRE_FLAT_STRUCT(k)                                                             \
	int wire_encode_##k(const struct wire_##k *m, uint8_t *buf, size_t cap);        \
	int wire_decode_##k(const uint8_t *buf, size_t len, struct wire_##k *out);

/* The encoder and decoder of a message coded by hand. */
#define WIRE_CODEC_DECLARE(k)                                                           \
	int wire_encode_##k(const struct wire_##k *m, uint8_t *buf, size_t cap);        \
	int wire_decode_##k(const uint8_t *buf, size_t len, struct wire_##k *out);

#endif
