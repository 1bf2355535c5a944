/* fuzz_policy.c - the policy loader (policy/policy.h) from any bytes: valid
   or refused with a message, never a crash; a valid policy answers the
   questions the commands ask. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hw_policy *pol = NULL;
	struct hw_policy_mailbox mb;
	struct hw_error err;
	char buf[256];
	time_t end;
	int r = hw_policy_load_buffer("/fuzz/hiwater.yaml", data, size, &pol, &err);

	if (r != 1) {
		if (pol != NULL || err.msg[0] == '\0')
			abort();   /* refused: nothing returned, and a reason */
		return 0;
	}
	hw_policy_resolve(pol, "example.com", "bob", &mb);
	(void)hw_policy_rule_match(&mb, "Deleted Items");
	(void)hw_policy_rule_match(&mb, "INBOX");
	for (size_t i = 0; i < mb.nrules; i++)
		hw_purge_rule_format(&mb.rules[i], buf, sizeof(buf));
	hw_policy_mailbox_release(&mb);
	for (size_t i = 0; i < pol->ndomains; i++) {
		hw_policy_resolve(pol, pol->domains[i].name, "x", &mb);
		hw_policy_mailbox_release(&mb);
	}
	(void)hw_policy_window_at(pol, (time_t)1790000000, &end);
	hw_policy_window_format(pol, buf, sizeof(buf));
	hw_policy_free(&pol);
	return 0;
}
