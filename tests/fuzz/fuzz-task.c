/*
 * fuzz-task.c: task v1 decoding (msg_task_decode) and the dead-letter
 * record built from whatever it refuses. Every input must either decode
 * into a task whose fields obey the contract or be refused with a reason
 * and a short detail; neither may crash, leak or read out of bounds. A
 * decoded task's requeue is the original text but for the attempt, and
 * decodes again as the same task one attempt on.
 */
#include "config.h"
#include "gateway.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Relative, and no segment leads up or nowhere. */
static int
fuzz_entry_safe(const char *e)
{
	const char *p = e;
	size_t n;

	if (*e == '/')
		return 0;
	for (;;) {
		n = strcspn(p, "/");
		if (n == 0 || (n == 2 && p[0] == '.' && p[1] == '.') || (n == 1 && p[0] == '.'))
			return 0;
		if (p[n] == '\0')
			return 1;
		p += n + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct task_spec *t = NULL;
	enum dlq_reason reason;
	char *detail = NULL, *id = NULL, *rec, *rq;
	size_t tail;
	cJSON *j;

	if (msg_task_decode(data, size, &t, &reason, &detail, &id) == 0) {
		assert(t != NULL && detail == NULL);
		assert(strlen(t->task_id) >= 1 && strlen(t->task_id) <= TASK_ID_MAX);
		assert(strstr(t->task_id, "/") == NULL && t->task_id[0] != '.');
		assert(t->attempt >= 1);
		assert(t->entry == NULL || fuzz_entry_safe(t->entry));
		assert(t->params != NULL && t->params[0] == '{');
		rq = msg_task_requeue(t);
		j = cJSON_Parse(rq);
		assert(j != NULL);
		cJSON_Delete(j);
		/* Byte for byte the original before and after the attempt. */
		assert(memcmp(rq, data, t->attempt_off) == 0);
		tail = size - t->attempt_end;
		assert(strlen(rq) >= tail && memcmp(rq + strlen(rq) - tail, data + t->attempt_end,
		    tail) == 0);
		if (t->attempt < 1000 && strlen(rq) <= TASK_MAX_BYTES) {
			struct task_spec *t2 = NULL;
			char *d2 = NULL, *id2 = NULL;
			assert(msg_task_decode(rq, strlen(rq), &t2, &reason, &d2, &id2) == 0);
			assert(t2->attempt == t->attempt + 1);
			assert(strcmp(t2->task_id, t->task_id) == 0);
			assert(strcmp(t2->params, t->params) == 0);
			assert(strcmp(t2->program, t->program) == 0);
			msg_task_free(t2);
			free(id2);
		}
		free(rq);
		msg_task_free(t);
	} else {
		assert(t == NULL && detail != NULL && *detail != '\0' && strlen(detail) <= 200);
		rec = msg_dlq_encode(reason, detail, id, "paia.tasks", 0, 42, data, size, 0);
		j = cJSON_Parse(rec);
		assert(j != NULL);
		cJSON_Delete(j);
		free(rec);
	}
	free(detail);
	free(id);
	return 0;
}
