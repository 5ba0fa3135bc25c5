/*
 * fuzz-ledger.c: commit metadata read back from the broker
 * (ledger_restore). Any string is either refused (the partition restarts
 * at the committed offset) or restores a ledger whose own metadata reads
 * back identically and whose commit point is the committed offset.
 */
#include "config.h"
#include "gateway.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ledger *l = ledger_new(), *l2;
	char *cause = NULL, *md, *md2;
	const int64_t committed = 1000;

	if (ledger_restore(l, 0, committed, (const char *)data, size, &cause) != 0) {
		assert(cause != NULL);
		free(cause);
		assert(ledger_commit_point(l, 0) == committed);
		assert(ledger_next(l, 0) == committed);
	} else {
		assert(ledger_next(l, 0) >= committed);
		assert(ledger_commit_point(l, 0) == committed ||
		    ledger_next(l, 0) == committed);
		md = ledger_metadata(l, 0);
		l2 = ledger_new();
		assert(ledger_restore(l2, 0, committed, md, strlen(md), &cause) == 0);
		md2 = ledger_metadata(l2, 0);
		assert(strcmp(md, md2) == 0);
		free(md);
		free(md2);
		ledger_free(l2);
	}
	ledger_free(l);
	return 0;
}
