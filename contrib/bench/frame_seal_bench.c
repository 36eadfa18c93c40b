/* frame_seal_bench.c: the cost of sealing helper connections frame by frame (issue 18, 5c)
 * on 1 MiB frames, the size of a transfer piece: seal on one end and open on the other,
 * authenticated only (FRAME_SEAL_MAC) and encrypted (FRAME_SEAL_ENCRYPT), against memcpy of
 * the same bytes (what a receive costs anyway), measured in the same run. Prints one
 * RESULT line per mode. Usage: frame_seal_bench [--mib=N] (default 256 MiB in all) */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal/frame_seal.h"

#define FRAME (1u << 20)

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* GiB/s of sealing and opening `frames` frames. */
static double seal_rate(enum frame_seal_mode mode, uint8_t *payload, unsigned frames)
{
	static const uint8_t secret[32] = "benchmark secret of the handsha";
	const struct frame_seal_identity id = { .job_id = 1, .opener = 0, .acceptor = 1, .purpose = 1 };
	struct frame_session *from, *to;
	uint8_t header[16] = { 0 }, tag[FRAME_SEAL_TAG_BYTES];
	char err[256];

	if (frame_session_create(secret, sizeof(secret), &id, true, mode, &from, err, sizeof(err)) < 0 ||
	    frame_session_create(secret, sizeof(secret), &id, false, mode, &to, err, sizeof(err)) < 0) {
		fprintf(stderr, "frame_seal_bench: %s\n", err);
		exit(1);
	}
	double t0 = now_s();
	for (unsigned i = 0; i < frames; i++)
		if (frame_seal(from, header, sizeof(header), payload, FRAME, tag) < 0 ||
		    frame_open(to, header, sizeof(header), payload, FRAME, tag) < 0) {
			fprintf(stderr, "frame_seal_bench: frame %u did not open\n", i);
			exit(1);
		}
	double seconds = now_s() - t0;
	frame_session_destroy(from);
	frame_session_destroy(to);
	return (double)frames * FRAME / seconds / (1u << 30);
}

int main(int argc, char **argv)
{
	static const struct option options[] = { { "mib", required_argument, NULL, 'm' }, { NULL, 0, NULL, 0 } };
	unsigned frames = 256;
	int c;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (c != 'm')
			return 2;
		frames = (unsigned)strtoul(optarg, NULL, 10);
	}
	uint8_t *payload = calloc(1, FRAME), *copy = calloc(1, FRAME);
	if (!payload || !copy || !frames)
		return 1;
	double t0 = now_s();
	for (unsigned i = 0; i < frames; i++) {
		memcpy(copy, payload, FRAME);
		__asm__ volatile("" : : "r"(copy) : "memory"); /* the copy is kept */
	}
	double copied = (double)frames * FRAME / (now_s() - t0) / (1u << 30);
	double mac = seal_rate(FRAME_SEAL_MAC, payload, frames);
	double encrypt = seal_rate(FRAME_SEAL_ENCRYPT, payload, frames);
	printf("RESULT name=frame_seal_mac value=%.3f unit=GiB/s baseline=%.3f ratio=%.3f\n", mac, copied,
	       mac / copied);
	printf("RESULT name=frame_seal_encrypt value=%.3f unit=GiB/s baseline=%.3f ratio=%.3f\n", encrypt, copied,
	       encrypt / copied);
	free(payload);
	free(copy);
	return 0;
}
