/* test_mesh_auth.c: the checks a mesh credential's payload must pass (helper/loop/mesh_auth.c,
 * issue 18 item 5): a credential is valid only for the message type it was sealed for, so a
 * rendezvous REGISTER (addressed to no node) or a transfer's HELLO does not pass for a JOIN
 * or a mesh HELLO; only a REGISTER may be addressed to the rendezvous and only a WELCOME
 * may come from it; the uid, job, step, ends and echo are checked as before. A credential
 * that munged did not encrypt is refused (its nonces key the connection's frames). */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <munge.h>

#include "loop/mesh_auth.h"

#define UID 1000
#define JOB 77
#define STEP 3

static struct wire_mesh_auth sealed(uint16_t purpose, uint32_t from, uint32_t to, uint64_t echo)
{
	return (struct wire_mesh_auth){ .purpose = purpose, .job_id = JOB, .step_id = STEP,
					.from_node = from, .to_node = to, .nonce = 0x1234, .echo = echo };
}

/* mesh_auth_check of payload against expect; err must name `reason` when it fails. */
static int check(const struct wire_mesh_auth *payload, struct mesh_auth_expect expect, const char *reason)
{
	char err[256] = "";
	int rc = mesh_auth_check(payload, UID, UID, JOB, STEP, &expect, err, sizeof(err));
	if (rc < 0 && reason && !strstr(err, reason))
		fail_msg("the refusal '%s' does not say '%s'", err, reason);
	return rc;
}

static void test_register_credential_refused_as_join(void **state)
{
	(void)state;
	/* A sniffed REGISTER of node 2: from = 2, to = the rendezvous. */
	struct wire_mesh_auth reg = sealed(WIRE_RDV_REGISTER, 2, WIRE_NO_NODE, 0);
	assert_int_equal(check(&reg, (struct mesh_auth_expect){ .purpose = WIRE_MESH_JOIN, .from_node = 2,
								.to_node = WIRE_NO_NODE }, "RDV_REGISTER"),
			 -EACCES);
}

static void test_register_credential_refused_as_hello(void **state)
{
	(void)state;
	struct wire_mesh_auth reg = sealed(WIRE_RDV_REGISTER, 2, WIRE_NO_NODE, 0);
	assert_int_equal(check(&reg, (struct mesh_auth_expect){ .purpose = WIRE_MESH_HELLO, .from_node = 2,
								.to_node = WIRE_NO_NODE }, "not a MESH_HELLO"),
			 -EACCES);
}

static void test_transfer_hello_refused_as_mesh_hello_and_join(void **state)
{
	(void)state;
	struct wire_mesh_auth xfer = sealed(WIRE_XFER_HELLO, 1, 3, 0);
	assert_int_equal(check(&xfer, (struct mesh_auth_expect){ .purpose = WIRE_MESH_HELLO, .from_node = 1,
								 .to_node = 3 }, "XFER_HELLO"),
			 -EACCES);
	assert_int_equal(check(&xfer, (struct mesh_auth_expect){ .purpose = WIRE_MESH_JOIN, .from_node = 1,
								 .to_node = 3 }, "XFER_HELLO"),
			 -EACCES);
}

static void test_join_addressed_to_no_node_refused(void **state)
{
	(void)state;
	struct wire_mesh_auth join = sealed(WIRE_MESH_JOIN, 2, WIRE_NO_NODE, 0);
	assert_int_equal(check(&join, (struct mesh_auth_expect){ .purpose = WIRE_MESH_JOIN, .from_node = 2,
								 .to_node = WIRE_NO_NODE }, "addressed to the rendezvous"),
			 -EACCES);
}

static void test_only_a_welcome_comes_from_the_rendezvous(void **state)
{
	(void)state;
	struct wire_mesh_auth accept = sealed(WIRE_MESH_JOIN_ACCEPT, WIRE_NO_NODE, 2, 9);
	assert_int_equal(check(&accept, (struct mesh_auth_expect){ .purpose = WIRE_MESH_JOIN_ACCEPT,
								   .from_node = WIRE_NO_NODE, .to_node = 2, .echo = 9 },
			       "from the rendezvous"),
			 -EACCES);
	struct wire_mesh_auth welcome = sealed(WIRE_MESH_WELCOME, WIRE_NO_NODE, 2, 9);
	assert_int_equal(check(&welcome, (struct mesh_auth_expect){ .purpose = WIRE_MESH_WELCOME,
								    .from_node = WIRE_NO_NODE, .to_node = 2, .echo = 9 },
			       NULL),
			 0);
}

static void test_credentials_for_their_own_purpose_pass(void **state)
{
	(void)state;
	struct wire_mesh_auth reg = sealed(WIRE_RDV_REGISTER, 2, WIRE_NO_NODE, 0);
	struct wire_mesh_auth join = sealed(WIRE_MESH_JOIN, 2, 0, 0);
	struct wire_mesh_auth hello = sealed(WIRE_MESH_HELLO, 1, 3, 0);
	assert_int_equal(check(&reg, (struct mesh_auth_expect){ .purpose = WIRE_RDV_REGISTER, .from_node = 2,
								.to_node = WIRE_NO_NODE }, NULL), 0);
	assert_int_equal(check(&join, (struct mesh_auth_expect){ .purpose = WIRE_MESH_JOIN, .from_node = 2,
								 .to_node = 0 }, NULL), 0);
	assert_int_equal(check(&hello, (struct mesh_auth_expect){ .purpose = WIRE_MESH_HELLO, .from_node = 1,
								  .to_node = 3 }, NULL), 0);
}

static void test_other_checks_still_hold(void **state)
{
	(void)state;
	struct mesh_auth_expect expect = { .purpose = WIRE_MESH_WELCOME, .from_node = 1, .to_node = 3, .echo = 5 };
	struct wire_mesh_auth welcome = sealed(WIRE_MESH_WELCOME, 1, 3, 5);
	char err[256];
	assert_int_equal(mesh_auth_check(&welcome, UID + 1, UID, JOB, STEP, &expect, err, sizeof(err)), -EACCES);
	assert_int_equal(mesh_auth_check(&welcome, UID, UID, JOB + 1, STEP, &expect, err, sizeof(err)), -EACCES);
	welcome.echo = 6;
	assert_int_equal(check(&welcome, expect, "nonce"), -EACCES);
	welcome = sealed(WIRE_MESH_WELCOME, 1, 4, 5);
	assert_int_equal(check(&welcome, expect, "addressed to node 4"), -EACCES);
}

static void test_credential_without_cipher_refused(void **state)
{
	char err[256] = "";
	(void)state;
	assert_int_equal(mesh_auth_check_cipher(MUNGE_CIPHER_NONE, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "without encryption"));
	assert_int_equal(mesh_auth_check_cipher(MUNGE_CIPHER_AES128, err, sizeof(err)), 0);
	assert_int_equal(mesh_auth_check_cipher(MUNGE_CIPHER_AES256, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_credential_refused_as_join),
		cmocka_unit_test(test_register_credential_refused_as_hello),
		cmocka_unit_test(test_transfer_hello_refused_as_mesh_hello_and_join),
		cmocka_unit_test(test_join_addressed_to_no_node_refused),
		cmocka_unit_test(test_only_a_welcome_comes_from_the_rendezvous),
		cmocka_unit_test(test_credentials_for_their_own_purpose_pass),
		cmocka_unit_test(test_other_checks_still_hold),
		cmocka_unit_test(test_credential_without_cipher_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
