/*
 * fuzz-control.c: control request parsing (proto_request_parse). An
 * accepted request names a known command with only its fields, each of
 * its type (ids 1 to TASK_ID_MAX bytes, no control characters, follow
 * and stop only for logs and never both, a frame's "at" within its range, video_data's "offset"
 * a whole number from 0 to 2^53); a
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
	struct proto_request req;
	char *cause = NULL;

	if (proto_request_parse((const char *)data, size, &req, &cause) != 0) {
		assert(cause != NULL && *cause != '\0' && strlen(cause) <= 200);
		assert(req.id == NULL && req.state == NULL);
		free(cause);
		return 0;
	}
	assert(cause == NULL && req.cmd < PROTO_NCMDS);
	if (req.cmd == PROTO_CMD_TASK || req.cmd == PROTO_CMD_CANCEL || req.cmd == PROTO_CMD_REQUEUE ||
	    req.cmd == PROTO_CMD_LOGS || req.cmd == PROTO_CMD_FRAME ||
	    req.cmd == PROTO_CMD_VIDEO_DATA)
		assert(req.id != NULL && *req.id != '\0' && strlen(req.id) <= TASK_ID_MAX &&
		    fuzz_control_clean(req.id));
	else
		assert(req.id == NULL);
	assert(req.state == NULL || (req.cmd == PROTO_CMD_TASKS && fuzz_control_clean(req.state)));
	assert(!req.check || req.cmd == PROTO_CMD_LAG);
	assert(!req.follow || req.cmd == PROTO_CMD_LOGS);
	assert(!req.stop || (req.cmd == PROTO_CMD_LOGS && !req.follow));
	assert(req.at == 0 || (req.cmd == PROTO_CMD_FRAME && req.at > 0 &&
	    req.at <= PROTO_FRAME_AT_MAX));
	assert(req.offset == 0 || (req.cmd == PROTO_CMD_VIDEO_DATA && req.offset > 0 &&
	    req.offset <= PROTO_OFFSET_MAX));
	proto_request_clear(&req);
	return 0;
}
