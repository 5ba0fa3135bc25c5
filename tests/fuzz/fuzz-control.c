/*
 * fuzz-control.c: control request parsing (control_request_parse). An
 * accepted request names a known command with only its fields, each of
 * its type (ids 1 to TASK_ID_MAX bytes, no control characters); a
 * refused one gets a short error. Neither may crash, leak or read out
 * of bounds.
 */
#include "config.h"
#include "gateway.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_control_clean(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_request req;
	char *cause = NULL;

	if (control_request_parse((const char *)data, size, &req, &cause) != 0) {
		assert(cause != NULL && *cause != '\0' && strlen(cause) <= 200);
		assert(req.id == NULL && req.state == NULL);
		free(cause);
		return 0;
	}
	assert(cause == NULL && req.cmd <= CONTROL_SUBSCRIBE);
	if (req.cmd == CONTROL_TASK || req.cmd == CONTROL_CANCEL || req.cmd == CONTROL_REQUEUE)
		assert(req.id != NULL && *req.id != '\0' && strlen(req.id) <= TASK_ID_MAX &&
		    fuzz_control_clean(req.id));
	else
		assert(req.id == NULL);
	assert(req.state == NULL || (req.cmd == CONTROL_TASKS && fuzz_control_clean(req.state)));
	assert(!req.check || req.cmd == CONTROL_LAG);
	control_request_clear(&req);
	return 0;
}
