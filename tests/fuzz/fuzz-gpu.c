/*
 * fuzz-gpu.c: the GPU probe's parser (gpu/parse.c) on any bytes: as a
 * whole answer of paia-gpu-probe (nonce 0123456789abcdef, the corpus's),
 * and the same bytes as nvidia-smi's GPU list, process list, -L and a
 * cgroup file. Either a report or a reason naming a line; every string
 * handed over is terminal-safe; every index points inside its array.
 * Nothing may crash, leak or read out of bounds.
 */
#include "config.h"
#include "common.h"
#include "gpu.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s)
{
	assert(s != NULL);
	for (; *s != '\0'; s++)
		assert((unsigned char)*s >= 0x20 && *s != 0x7f);
}

static void
check_report(const struct gpu_report *r)
{
	size_t i, k;

	assert(r->ngpus <= GPU_MAX_GPUS && r->nprocs <= GPU_MAX_PROCS);
	for (i = 0; i < r->ngpus; i++) {
		check_text(r->gpus[i].uuid);
		check_text(r->gpus[i].name);
		assert(r->gpus[i].index >= 0 && r->gpus[i].index < GPU_MAX_GPUS);
		for (k = 0; k < r->gpus[i].nmigs; k++) {
			check_text(r->gpus[i].migs[k].profile);
			check_text(r->gpus[i].migs[k].uuid);
		}
	}
	for (i = 0; i < r->nprocs; i++) {
		const struct gpu_process *p = &r->procs[i];

		check_text(p->name);
		assert(p->pid > 0);
		assert(p->gpu >= -1 && p->gpu < (int)r->ngpus);
		assert(p->mig == -1 || (p->gpu >= 0 && p->mig < (int)r->gpus[p->gpu].nmigs));
		assert((p->pod_uid == NULL) == (p->qos == NULL));
		if (p->pod_uid != NULL)
			check_text(p->pod_uid);
	}
	if (r->apps_error != NULL)
		assert(r->nprocs == 0);
	if (r->display != GPU_DISPLAY_UNCHECKED) {
		check_text(r->display_name);
		check_text(r->display_detail);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct gpu_device *gpus = NULL;
	struct gpu_process *procs = NULL;
	struct gpu_report *r, *lists;
	struct gpu_cgroup_ref ref;
	size_t ngpus = 0, nprocs = 0;
	char *cause = NULL;

	r = gpu_answer_parse(text, size, "0123456789abcdef", &cause);
	assert((r == NULL) != (cause == NULL));
	if (r != NULL) {
		check_report(r);
		gpu_report_free(r);
	} else {
		assert(strstr(cause, "line ") != NULL || strstr(cause, "answer") != NULL ||
		    strstr(cause, "nvidia-smi") != NULL);
		free(cause);
	}

	/* The sections' parsers alone. */
	cause = NULL;
	if (gpu_parse_query(text, size, 1, &gpus, &ngpus, &cause) != 0) {
		assert(strncmp(cause, "line ", 5) == 0);
		free(cause);
	}
	gpu_parse_list(text, size, gpus, ngpus);
	cause = NULL;
	if (gpu_parse_apps(text, size, 1, &procs, &nprocs, &cause) != 0) {
		assert(strncmp(cause, "line ", 5) == 0);
		free(cause);
	}
	lists = xcalloc(1, sizeof *lists);
	lists->gpus = gpus;
	lists->ngpus = ngpus;
	lists->procs = procs;
	lists->nprocs = nprocs;
	check_report(lists);
	gpu_report_free(lists);

	if (gpu_parse_cgroup(text, size, &ref)) {
		check_text(ref.pod_uid);
		assert(strlen(ref.pod_uid) == 36 || strlen(ref.pod_uid) == 32);
		assert(ref.container_id == NULL || strlen(ref.container_id) == 64);
	} else
		assert(ref.pod_uid == NULL && ref.container_id == NULL);
	gpu_cgroup_ref_clear(&ref);
	return 0;
}
