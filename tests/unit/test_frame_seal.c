/*
 * test_frame_seal.c: per-frame sealing of helper connections (common/frame_seal.c): frames go
 * through in order in both modes; an altered header, payload or tag, a replayed, dropped,
 * reordered or reflected frame, a session with another secret or identity are all refused;
 * once refused, a session stays refused; encryption hides the payload. frame_seal_from seals
 * from bytes it leaves unchanged (sent as they are, or encrypted into another buffer), and
 * its frames open like frame_seal's, in order with them.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "internal/frame_seal.h"

static const uint8_t secret[32] = "sealed nonces of both ends.....";
static const struct frame_seal_identity identity = { .job_id = 42, .step_id = 0, .opener = 1, .acceptor = 2,
						     .purpose = 0x0301 };
static struct frame_session *opener, *acceptor;
static char err[256];

struct frame {
	uint8_t header[16];
	uint8_t payload[300];
	uint8_t tag[FRAME_SEAL_TAG_BYTES];
};

static void make_pair(enum frame_seal_mode mode)
{
	assert_int_equal(frame_session_create(secret, sizeof(secret), &identity, true, mode, &opener, err,
					      sizeof(err)), 0);
	assert_int_equal(frame_session_create(secret, sizeof(secret), &identity, false, mode, &acceptor, err,
					      sizeof(err)), 0);
}

static int teardown(void **state)
{
	(void)state;
	frame_session_destroy(opener);
	frame_session_destroy(acceptor);
	opener = acceptor = NULL;
	return 0;
}

static void seal(struct frame_session *from, struct frame *f, uint8_t fill)
{
	memset(f->header, fill, sizeof(f->header));
	memset(f->payload, fill + 1, sizeof(f->payload));
	assert_int_equal(frame_seal(from, f->header, sizeof(f->header), f->payload, sizeof(f->payload), f->tag), 0);
}

static int open_frame(struct frame_session *to, struct frame *f)
{
	return frame_open(to, f->header, sizeof(f->header), f->payload, sizeof(f->payload), f->tag);
}

static void test_frames_go_through_both_ways(void **state)
{
	struct frame f;
	uint8_t expected[300];

	(void)state;
	for (int mode = FRAME_SEAL_MAC; mode <= FRAME_SEAL_ENCRYPT; mode++) {
		make_pair((enum frame_seal_mode)mode);
		for (uint8_t i = 0; i < 5; i++) {
			seal(opener, &f, i);
			memset(expected, i + 1, sizeof(expected));
			if (mode == FRAME_SEAL_MAC)
				assert_memory_equal(f.payload, expected, sizeof(expected));
			else
				assert_memory_not_equal(f.payload, expected, sizeof(expected));
			assert_int_equal(open_frame(acceptor, &f), 0);
			assert_memory_equal(f.payload, expected, sizeof(expected));
			seal(acceptor, &f, 100 + i);
			assert_int_equal(open_frame(opener, &f), 0);
		}
		teardown(NULL);
	}
}

static void test_altered_frames_are_refused(void **state)
{
	struct frame f;

	(void)state;
	for (int what = 0; what < 3; what++) {
		make_pair(FRAME_SEAL_MAC);
		seal(opener, &f, 7);
		uint8_t *byte = what == 0 ? &f.header[5] : what == 1 ? &f.payload[299] : &f.tag[0];
		*byte ^= 0x01;
		assert_int_equal(open_frame(acceptor, &f), -EBADMSG);
		/* and the session stays refused, even for a good frame */
		*byte ^= 0x01;
		assert_int_equal(open_frame(acceptor, &f), -EBADMSG);
		teardown(NULL);
	}
}

static void test_replayed_dropped_and_reflected_frames_are_refused(void **state)
{
	struct frame first, second;

	(void)state;
	make_pair(FRAME_SEAL_MAC);
	seal(opener, &first, 1);
	seal(opener, &second, 2);
	assert_int_equal(open_frame(acceptor, &second), -EBADMSG); /* first dropped or reordered */
	teardown(NULL);

	make_pair(FRAME_SEAL_MAC);
	seal(opener, &first, 1);
	assert_int_equal(open_frame(acceptor, &first), 0);
	memset(first.payload, 2, sizeof(first.payload)); /* as it was sealed */
	assert_int_equal(open_frame(acceptor, &first), -EBADMSG); /* replayed */
	teardown(NULL);

	make_pair(FRAME_SEAL_MAC);
	seal(opener, &first, 1);
	assert_int_equal(open_frame(opener, &first), -EBADMSG); /* sent back to its sender */
	teardown(NULL);
}

static void test_other_secret_or_identity_is_refused(void **state)
{
	uint8_t other_secret[32];
	struct frame_seal_identity other_step = identity;
	struct frame_session *stranger;
	struct frame f;

	(void)state;
	memcpy(other_secret, secret, sizeof(secret));
	other_secret[31] ^= 1;
	other_step.step_id = 1;
	make_pair(FRAME_SEAL_MAC);
	assert_int_equal(frame_session_create(other_secret, sizeof(other_secret), &identity, false, FRAME_SEAL_MAC,
					      &stranger, err, sizeof(err)), 0);
	seal(opener, &f, 3);
	assert_int_equal(open_frame(stranger, &f), -EBADMSG);
	frame_session_destroy(stranger);
	assert_int_equal(frame_session_create(secret, sizeof(secret), &other_step, false, FRAME_SEAL_MAC, &stranger,
					      err, sizeof(err)), 0);
	assert_int_equal(open_frame(stranger, &f), -EBADMSG);
	frame_session_destroy(stranger);
	assert_int_equal(open_frame(acceptor, &f), 0);
}

static void test_short_secret_is_refused(void **state)
{
	struct frame_session *s = NULL;

	(void)state;
	assert_int_equal(frame_session_create(secret, 8, &identity, true, FRAME_SEAL_MAC, &s, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "frame seal: the handshake's secret is too short");
	assert_null(s);
}

static void test_frames_sealed_from_unchanged_bytes_open(void **state)
{
	static const uint8_t source[300] = "bytes of a region, sealed where they are";
	uint8_t cipher[300];
	struct frame f;

	(void)state;
	for (int mode = FRAME_SEAL_MAC; mode <= FRAME_SEAL_ENCRYPT; mode++) {
		bool encrypts = mode == FRAME_SEAL_ENCRYPT;
		make_pair((enum frame_seal_mode)mode);
		assert_int_equal(frame_session_encrypts(opener), encrypts);
		for (uint8_t i = 0; i < 3; i++) {
			memset(f.header, i, sizeof(f.header));
			assert_int_equal(frame_seal_from(opener, f.header, sizeof(f.header), source,
							 encrypts ? cipher : NULL, sizeof(source), f.tag), 0);
			memcpy(f.payload, encrypts ? cipher : source, sizeof(f.payload));
			if (encrypts)
				assert_memory_not_equal(f.payload, source, sizeof(source));
			assert_int_equal(open_frame(acceptor, &f), 0);
			assert_memory_equal(f.payload, source, sizeof(source));
			/* frame_seal's frames follow in the same counter */
			seal(opener, &f, i);
			assert_int_equal(open_frame(acceptor, &f), 0);
		}
		/* a byte of the source changed after sealing: the frame does not open */
		memset(f.header, 9, sizeof(f.header));
		assert_int_equal(frame_seal_from(opener, f.header, sizeof(f.header), source,
						 encrypts ? cipher : NULL, sizeof(source), f.tag), 0);
		memcpy(f.payload, encrypts ? cipher : source, sizeof(f.payload));
		f.payload[7] ^= 1;
		assert_int_equal(open_frame(acceptor, &f), -EBADMSG);
		if (encrypts)
			assert_int_equal(frame_seal_from(opener, f.header, sizeof(f.header), source, NULL,
							 sizeof(source), f.tag), -EIO);
		teardown(NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_go_through_both_ways),
		cmocka_unit_test(test_altered_frames_are_refused),
		cmocka_unit_test(test_replayed_dropped_and_reflected_frames_are_refused),
		cmocka_unit_test_teardown(test_other_secret_or_identity_is_refused, teardown),
		cmocka_unit_test(test_short_secret_is_refused),
		cmocka_unit_test_teardown(test_frames_sealed_from_unchanged_bytes_open, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
