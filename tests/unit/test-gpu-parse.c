/*
 * test-gpu-parse.c: the GPU probe's parser (gpu/parse.c) on what real
 * nodes print. Tables of nvidia-smi lines (real GPUs' outputs, each with
 * where it came from), compute-process lines, nvidia-smi -L with MIG
 * devices, /proc/PID/cgroup of the kubelet's layouts, and whole answers
 * of paia-gpu-probe, good and bad.
 *
 * Where the rows come from (our 12 columns, in our order, units dropped
 * as --format=csv,noheader,nounits prints them):
 *  [E] utkuozdemir/nvidia_gpu_exporter, internal/captures/ (MIT):
 *      linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.txt,
 *      __nvidia-h100-mig__590.48.01.txt, __nvidia-h200-mig__590.48.01.txt,
 *      __nvidia-l40s__595.80.txt, __nvidia-geforce-rtx-2080-super__610.57.04.txt:
 *      --query-gpu CSV and --query-compute-apps CSV under load, nvidia-smi -L
 *      (UUIDs masked by the capture tool).
 *  [N] netdata/go.d.plugin, modules/nvidia_smi/testdata/ (commit 6d84f8b):
 *      a100-sxm4-mig.xml (driver 510.47.03), rtx-4090-driver-535.xml,
 *      tesla-p100.xml: the same fields read from nvidia-smi -q -x dumps.
 *  [M] tutulino/Megaminer#235: a GeForce GTX 770 answering
 *      "[Not Supported]" for utilisation, power and clocks (temperature 52,
 *      P0); index, UUID and memory, which that query lacked, filled in.
 *  [R] Ricks-Lab/gpu-utils#83: a GeForce RTX 2080 on driver 440.64, whose
 *      nvidia-smi printed N/A without brackets; memory.used filled in.
 *  [I] enkore/i3pystatus#776: drivers moved from "[Not Supported]" to
 *      "[N/A]" for the same field. "[Insufficient Permissions]" is what
 *      NVML_ERROR_NO_PERMISSION prints (NVIDIA/nvidia-docker#1523,
 *      gpuopenanalytics/pynvml#19); "[Requested functionality has been
 *      deprecated]" is in [E]'s H100 capture.
 * Cgroup paths:
 *  [C1] netdata/netdata#4868 (systemd-cgls of containerd nodes, among them
 *       a static pod's hash), [C2] kontena/pharos-cluster#440 (Docker,
 *       systemd driver; a non-pod process's v1 cgroup file),
 *  [C3] kubernetes/minikube#11280 (CRI-O, kubelet in a Docker container),
 *  [C4] a cgroupfs v1 line as public test data have it (hugetlb controller).
 */
#include "config.h"
#include "gpu.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common.h"

/* "index|uuid|name|util_gpu|...|pstate", declined values by their state name. */
static void
render_value(char *buf, size_t len, struct gpu_value v)
{
	size_t n = strlen(buf);

	if (v.state == GPU_VALUE_OK)
		snprintf(buf + n, len - n, "|%g", v.v);
	else
		snprintf(buf + n, len - n, "|%s", gpu_value_state_name(v.state));
}

static void
render_gpu(char *buf, size_t len, const struct gpu_device *g)
{
	size_t n;

	snprintf(buf, len, "%d|%s|%s", g->index, g->uuid, g->name);
	render_value(buf, len, g->util_gpu);
	render_value(buf, len, g->util_mem);
	render_value(buf, len, g->mem_used);
	render_value(buf, len, g->mem_total);
	render_value(buf, len, g->temp);
	render_value(buf, len, g->power);
	render_value(buf, len, g->power_limit);
	render_value(buf, len, g->clock_sm);
	n = strlen(buf);
	snprintf(buf + n, len - n, "|%s", g->pstate);
}

static void
free_lists(struct gpu_device *g, size_t ng, struct gpu_process *p, size_t np)
{
	struct gpu_report *r = xcalloc(1, sizeof *r);

	r->gpus = g;
	r->ngpus = ng;
	r->procs = p;
	r->nprocs = np;
	gpu_report_free(r);
}
#define free_gpus(g, n) free_lists(g, n, NULL, 0)
#define free_procs(p, n) free_lists(NULL, 0, p, n)

static const struct {
	const char *src, *line, *want;
} query_ok[] = {
	{ "[E] RTX 4080 SUPER under load",
	  "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA GeForce RTX 4080 SUPER, 7, 2, 1474, 16376, 46, 84.24, 320.00, 2805, P2",
	  "0|GPU-00000000-0000-0000-0000-000000000000|NVIDIA GeForce RTX 4080 SUPER|7|2|1474|16376|46|84.24|320|2805|P2" },
	{ "[E] H100 80GB HBM3 in MIG mode: utilisation [N/A]",
	  "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, [N/A], [N/A], 11125, 81559, 53, 433.78, 700.00, 1980, P0",
	  "0|GPU-00000000-0000-0000-0000-000000000000|NVIDIA H100 80GB HBM3|n/a|n/a|11125|81559|53|433.78|700|1980|P0" },
	{ "[E] H200 in MIG mode",
	  "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H200, [N/A], [N/A], 16959, 143771, 36, 295.01, 700.00, 1980, P0",
	  "0|GPU-00000000-0000-0000-0000-000000000000|NVIDIA H200|n/a|n/a|16959|143771|36|295.01|700|1980|P0" },
	{ "[E] L40S",
	  "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA L40S, 9, 2, 1235, 46068, 54, 110.23, 350.00, 2520, P0",
	  "0|GPU-00000000-0000-0000-0000-000000000000|NVIDIA L40S|9|2|1235|46068|54|110.23|350|2520|P0" },
	{ "[E] RTX 2080 SUPER",
	  "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA GeForce RTX 2080 SUPER, 8, 3, 815, 8192, 38, 98.14, 250.00, 2070, P2",
	  "0|GPU-00000000-0000-0000-0000-000000000000|NVIDIA GeForce RTX 2080 SUPER|8|3|815|8192|38|98.14|250|2070|P2" },
	{ "[N] A100-SXM4-40GB with MIG enabled",
	  "0, GPU-27b94a00-ed54-5c24-b1fd-1054085de32a, NVIDIA A100-SXM4-40GB, [N/A], [N/A], 38, 40960, 36, 66.92, 400.00, 1410, P0",
	  "0|GPU-27b94a00-ed54-5c24-b1fd-1054085de32a|NVIDIA A100-SXM4-40GB|n/a|n/a|38|40960|36|66.92|400|1410|P0" },
	{ "[N] RTX 4090 idle, P8",
	  "0, GPU-71d1acc2-662d-2166-bf9f-65272d2fc437, NVIDIA GeForce RTX 4090, 0, 0, 2, 24564, 40, 26.84, 450.00, 210, P8",
	  "0|GPU-71d1acc2-662d-2166-bf9f-65272d2fc437|NVIDIA GeForce RTX 4090|0|0|2|24564|40|26.84|450|210|P8" },
	{ "[N] Tesla P100-PCIE-16GB",
	  "0, GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e, Tesla P100-PCIE-16GB, 0, 0, 0, 16384, 38, 26.16, 250.00, 405, P0",
	  "0|GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e|Tesla P100-PCIE-16GB|0|0|0|16384|38|26.16|250|405|P0" },
	{ "[M] GTX 770: [Not Supported]",
	  "0, GPU-6f6c0f54-b1c0-5a3f-9b6e-2d0c3f8e4a11, GeForce GTX 770, [Not Supported], [Not Supported], 1024, 2048, 52, [Not Supported], [Not Supported], [Not Supported], P0",
	  "0|GPU-6f6c0f54-b1c0-5a3f-9b6e-2d0c3f8e4a11|GeForce GTX 770|not supported|not supported|1024|2048|52|not supported|not supported|not supported|P0" },
	{ "[R] RTX 2080, driver 440: N/A without brackets",
	  "0, GPU-22b2c6ac-2d49-4863-197c-9c469071178a, GeForce RTX 2080, 86, 55, 4010, 7979, 45, 176.98, 200.00, N/A, P2",
	  "0|GPU-22b2c6ac-2d49-4863-197c-9c469071178a|GeForce RTX 2080|86|55|4010|7979|45|176.98|200|n/a|P2" },
	{ "[I] the probe user may not read power, a deprecated field, an error",
	  "1, GPU-00000000-0000-0000-0000-000000000001, Tesla T4, 0, 0, 0, 15360, 31, [Insufficient Permissions], [Requested functionality has been deprecated], [Unknown Error], [N/A]",
	  "1|GPU-00000000-0000-0000-0000-000000000001|Tesla T4|0|0|0|15360|31|insufficient permissions|error|error|" },
	{ "a name with commas: the other fields counted from both ends",
	  "3, GPU-3, Acme GPU, rev 2, model X, 50, 40, 1, 2, 3, 4.5, 6, 7, P15",
	  "3|GPU-3|Acme GPU, rev 2, model X|50|40|1|2|3|4.5|6|7|P15" },
	{ "control bytes in a name are made safe",
	  "0, GPU-0, Evil\033[2J\001Name, 1, 1, 1, 1, 1, 1, 1, 1, P0",
	  "0|GPU-0|Evil?[2J?Name|1|1|1|1|1|1|1|1|P0" },
	{ "CRLF and blank lines",
	  "\r\n0, GPU-0, T, 1, 2, 3, 4, 5, 6.5, 7, 8, P1\r\n\r\n",
	  "0|GPU-0|T|1|2|3|4|5|6.5|7|8|P1" },
};

static void
test_query_real(void **state)
{
	char buf[512], *cause = NULL;
	struct gpu_device *g = NULL;
	size_t i, n;

	for (i = 0; i < nitems(query_ok); i++) {
		n = 0;
		g = NULL;
		if (gpu_parse_query(query_ok[i].line, strlen(query_ok[i].line), 1, &g, &n,
		    &cause) != 0)
			fail_msg("%s: %s", query_ok[i].src, cause);
		assert_int_equal(n, 1);
		render_gpu(buf, sizeof buf, &g[0]);
		if (strcmp(buf, query_ok[i].want) != 0)
			fail_msg("%s:\n got %s\nwant %s", query_ok[i].src, buf, query_ok[i].want);
		free_gpus(g, n);
	}
}

static void
test_query_several(void **state)
{
	/* [E]'s rows as on a node with the three cards. */
	static const char text[] =
	    "0, GPU-a, NVIDIA GeForce RTX 4080 SUPER, 7, 2, 1474, 16376, 46, 84.24, 320.00, 2805, P2\n"
	    "1, GPU-b, NVIDIA L40S, 9, 2, 1235, 46068, 54, 110.23, 350.00, 2520, P0\n"
	    "2, GPU-c, NVIDIA H100 80GB HBM3, [N/A], [N/A], 11125, 81559, 53, 433.78, 700.00, 1980, P0\n";
	struct gpu_device *g = NULL;
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(gpu_parse_query(text, strlen(text), 1, &g, &n, &cause), 0);
	assert_int_equal(n, 3);
	assert_string_equal(g[1].name, "NVIDIA L40S");
	assert_int_equal(g[2].index, 2);
	assert_int_equal(g[2].util_gpu.state, GPU_VALUE_NA);
	free_gpus(g, n);
}

static const struct {
	const char *name, *text, *want;
} query_bad[] = {
	{ "too few fields", "0, GPU-0, T4\n", "line 7: \"0, GPU-0, T4\": 3 fields, 12 expected" },
	{ "not a number", "0, GPU-0, T, abc, 1, 1, 1, 1, 1, 1, 1, P0",
	  "line 7: field 4 (utilization.gpu): \"abc\" is not a number" },
	{ "strtod's extras are not numbers", "0, GPU-0, T, 1, 1, 1, 1, 1, nan, 1, 1, P0",
	  "field 9 (power.draw): \"nan\" is not a number" },
	{ "hex is not a number", "0, GPU-0, T, 1, 1, 1, 1, 1, 1, 0x10, 1, P0",
	  "field 10 (power.limit): \"0x10\" is not a number" },
	{ "an empty value", "0, GPU-0, T, 1, , 1, 1, 1, 1, 1, 1, P0",
	  "field 5 (utilization.memory): \"\" is not a number" },
	{ "an index out of range", "64, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0",
	  "field 1 (index): \"64\" is not a GPU index (0-63)" },
	{ "a UUID with a space", "0, GPU 0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0",
	  "field 2 (uuid): \"GPU 0\" is not a GPU UUID" },
	{ "pstate P16", "0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P16",
	  "field 12 (pstate): \"P16\" is not P0-P15" },
	{ "the same GPU twice", "0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n"
	  "0, GPU-1, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n", "line 8: GPU 0 (GPU-0) listed twice" },
	{ "nvidia-smi's failure text is not CSV",
	  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
	  "1 fields, 12 expected" },
};

static void
test_query_bad(void **state)
{
	struct gpu_device *g;
	char *cause;
	size_t i, n;

	for (i = 0; i < nitems(query_bad); i++) {
		g = NULL;
		n = 0;
		cause = NULL;
		if (gpu_parse_query(query_bad[i].text, strlen(query_bad[i].text), 7, &g, &n,
		    &cause) == 0)
			fail_msg("%s: accepted", query_bad[i].name);
		if (strstr(cause, query_bad[i].want) == NULL)
			fail_msg("%s:\n got %s\nwant %s", query_bad[i].name, cause, query_bad[i].want);
		free(cause);
		free_gpus(g, n);
	}
}

static void
test_query_too_many(void **state)
{
	char *text = NULL, *line, *cause = NULL;
	struct gpu_device *g = NULL;
	size_t n = 0, len = 0;
	int i;

	for (i = 0; i < GPU_MAX_GPUS + 1; i++) {
		xasprintf(&line, "%d, GPU-%d, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n", i % 64, i);
		text = xrealloc(text, len + strlen(line) + 1);
		memcpy(text + len, line, strlen(line) + 1);
		len += strlen(line);
		free(line);
	}
	assert_int_equal(gpu_parse_query(text, len, 1, &g, &n, &cause), -1);
	assert_non_null(strstr(cause, "line 65: "));
	free(cause);
	free(text);
	free_gpus(g, n);
}

static const struct {
	const char *src, *line;
	long pid;
	const char *uuid, *name, *used;
} apps_ok[] = {
	{ "[E] RTX 4080 SUPER: ffmpeg", "GPU-00000000-0000-0000-0000-000000000000, 5022, 503, ffmpeg",
	  5022, "GPU-00000000-0000-0000-0000-000000000000", "ffmpeg", "503" },
	{ "[E] the desktop's compositor", "GPU-00000000-0000-0000-0000-000000000000, 2165, 25, /usr/bin/kwin_wayland",
	  2165, "GPU-00000000-0000-0000-0000-000000000000", "/usr/bin/kwin_wayland", "25" },
	{ "[E] H100 MIG: a process on the parent GPU", "GPU-00000000-0000-0000-0000-000000000000, 21198, 7484, ./gpu_burn",
	  21198, "GPU-00000000-0000-0000-0000-000000000000", "./gpu_burn", "7484" },
	{ "memory not known (containers, WDDM)", "GPU-1, 77, [N/A], python3",
	  77, "GPU-1", "python3", "n/a" },
	{ "a process name with commas and spaces", "GPU-1, 78, 10, python3 play.py --a=1,2, --b",
	  78, "GPU-1", "python3 play.py --a=1,2, --b", "10" },
};

static void
test_apps(void **state)
{
	struct gpu_process *p;
	char *cause = NULL, used[64];
	size_t i, n;

	for (i = 0; i < nitems(apps_ok); i++) {
		p = NULL;
		n = 0;
		if (gpu_parse_apps(apps_ok[i].line, strlen(apps_ok[i].line), 1, &p, &n, &cause) != 0)
			fail_msg("%s: %s", apps_ok[i].src, cause);
		assert_int_equal(n, 1);
		assert_int_equal(p[0].pid, apps_ok[i].pid);
		assert_string_equal(p[0].gpu_uuid, apps_ok[i].uuid);
		assert_string_equal(p[0].name, apps_ok[i].name);
		used[0] = '\0';
		render_value(used, sizeof used, p[0].used_mem);
		assert_string_equal(used + 1, apps_ok[i].used);
		assert_int_equal(p[0].gpu, -1);
		assert_null(p[0].pod_uid);
		free_procs(p, n);
	}
}

static const struct {
	const char *name, *line, *want;
} apps_bad[] = {
	{ "PID 0", "GPU-1, 0, 10, x", "line 3: field 2 (pid): \"0\" is not a process ID" },
	{ "PID not a number", "GPU-1, 12a, 10, x", "field 2 (pid): \"12a\"" },
	{ "too few fields", "GPU-1, 12", "2 fields, 4 expected" },
	{ "a bad UUID", "GPU/1, 12, 10, x", "field 1 (gpu_uuid): \"GPU/1\" is not a GPU UUID" },
	{ "memory not a number", "GPU-1, 12, lots, x", "field 3 (used_memory): \"lots\"" },
};

static void
test_apps_bad(void **state)
{
	struct gpu_process *p;
	char *cause;
	size_t i, n;

	for (i = 0; i < nitems(apps_bad); i++) {
		p = NULL;
		n = 0;
		cause = NULL;
		if (gpu_parse_apps(apps_bad[i].line, strlen(apps_bad[i].line), 3, &p, &n, &cause) == 0)
			fail_msg("%s: accepted", apps_bad[i].name);
		if (strstr(cause, apps_bad[i].want) == NULL)
			fail_msg("%s:\n got %s\nwant %s", apps_bad[i].name, cause, apps_bad[i].want);
		free(cause);
		free_procs(p, n);
	}
}

static void
test_list_mig(void **state)
{
	/* [E] H100 and H200 MIG captures, -L as printed. */
	static const char query[] =
	    "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, [N/A], [N/A], 11125, 81559, 53, 433.78, 700.00, 1980, P0\n"
	    "1, GPU-00000001-0000-0000-0000-000000000001, NVIDIA H200, [N/A], [N/A], 16959, 143771, 36, 295.01, 700.00, 1980, P0\n";
	static const char list[] =
	    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)\n"
	    "  MIG 3g.40gb     Device  0: (UUID: MIG-00000000-0000-0000-0000-000000000000)\n"
	    "  MIG 2g.20gb     Device  1: (UUID: MIG-00000001-0000-0000-0000-000000000001)\n"
	    "  MIG 1g.10gb     Device  2: (UUID: MIG-00000002-0000-0000-0000-000000000002)\n"
	    "  MIG 1g.10gb     Device  3: (UUID: MIG-00000003-0000-0000-0000-000000000003)\n"
	    "GPU 1: NVIDIA H200 (UUID: GPU-00000001-0000-0000-0000-000000000001)\n"
	    "  MIG 1c.3g.71gb  Device  0: (UUID: MIG-10000000-0000-0000-0000-000000000000)\n"
	    "  MIG 2g.35gb     Device  1: (UUID: MIG-10000001-0000-0000-0000-000000000001)\n"
	    "GPU 2: Not Queried (UUID: GPU-99)\n"
	    "  MIG 1g.5gb      Device  0: (UUID: MIG-99)\n"
	    "garbage (UUID: \n";
	struct gpu_device *g = NULL;
	char *cause = NULL;
	size_t n = 0;

	assert_int_equal(gpu_parse_query(query, strlen(query), 1, &g, &n, &cause), 0);
	gpu_parse_list(list, strlen(list), g, n);
	assert_int_equal(g[0].nmigs, 4);
	assert_string_equal(g[0].migs[0].profile, "3g.40gb");
	assert_string_equal(g[0].migs[3].uuid, "MIG-00000003-0000-0000-0000-000000000003");
	assert_int_equal(g[0].migs[3].index, 3);
	assert_int_equal(g[1].nmigs, 2);
	assert_string_equal(g[1].migs[0].profile, "1c.3g.71gb");
	free_gpus(g, n);
}

static const struct {
	const char *src, *text, *uid, *container, *qos;
} cgroups[] = {
	{ "[C1] containerd, systemd driver, v2",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/cri-containerd-09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439.scope\n",
	  "03f3f104-3215-44f2-9686-d4dd1f05a7ed", "09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439", "burstable" },
	{ "[C1] a static pod: its config hash",
	  "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod187bff14cccb94f179e943eacce55bb3.slice/cri-containerd-c203a2647ef1ad78e990157c50331f3b6ef0b03336cf08535d6bf7faa5421415.scope",
	  "187bff14cccb94f179e943eacce55bb3", "c203a2647ef1ad78e990157c50331f3b6ef0b03336cf08535d6bf7faa5421415", "burstable" },
	{ "[C2] Docker, systemd driver, v1 (several hierarchies)",
	  "11:cpuacct,cpu:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/docker-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope\n"
	  "1:name=systemd:/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod9692aa0e_748e_11e8_8dfa_76d458035df6.slice/docker-abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152.scope\n",
	  "9692aa0e-748e-11e8-8dfa-76d458035df6", "abddff03dfd7710c79a750ce3e730365cbb2c8247a974170c1062683bc3e9152", "besteffort" },
	{ "[C3] CRI-O, kubelet inside a Docker container",
	  "0::/docker/d6701ec289c56e4391acb11d07474b3139466857a305490575508a8b7a9fcf22/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod2ca4a155_3599_498d_bb9d_4446693fa3ea.slice/crio-0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0.scope",
	  "2ca4a155-3599-498d-bb9d-4446693fa3ea", "0ba8ac17e4e7a31fb82279503552fe94e64bab4745bf6fd2ff231e7c8ca8bed0", "besteffort" },
	{ "[C4] cgroupfs driver, v1",
	  "10:hugetlb:/kubepods/burstable/podfd52ef25-a87d-11e9-9423-0800271a638e/8c046cb0b72cd4c99f51b5591cd5b095967f58ee003710a45280c28ee1a9c7fa\n",
	  "fd52ef25-a87d-11e9-9423-0800271a638e", "8c046cb0b72cd4c99f51b5591cd5b095967f58ee003710a45280c28ee1a9c7fa", "burstable" },
	{ "cgroupfs, a guaranteed pod (no QoS level in the path)",
	  "0::/kubepods/pod0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d/8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b\n",
	  "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b", "guaranteed" },
	{ "CRI-O's conmon is in the pod, but not a container",
	  "0::/kubepods.slice/kubepods-pod2d3e4f5a_6b7c_4d8e_9f0a_1b2c3d4e5f6a.slice/crio-conmon-8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b.scope\n",
	  "2d3e4f5a-6b7c-4d8e-9f0a-1b2c3d4e5f6a", NULL, "guaranteed" },
	{ "[C2] a system service (v1)", "11:cpuacct,cpu:/system.slice\n1:name=systemd:/system.slice\n",
	  NULL, NULL, NULL },
	{ "Docker outside Kubernetes", "0::/system.slice/docker-3f6c1e2b9a0d4c8e7f5a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a.scope",
	  NULL, NULL, NULL },
	{ "\"pod\" + a UID outside kubepods is not a pod", "0::/user.slice/pod03f3f104-3215-44f2-9686-d4dd1f05a7ed\n",
	  NULL, NULL, NULL },
	{ "a UID one digit short", "0::/kubepods/besteffort/pod03f3f104-3215-44f2-9686-d4dd1f05a7e/x\n",
	  NULL, NULL, NULL },
	{ "the process left: head's message", "head: cannot open '/proc/5021/cgroup' for reading: No such file or directory\n",
	  NULL, NULL, NULL },
};

static void
test_cgroup(void **state)
{
	struct gpu_cgroup_ref ref;
	size_t i;
	int found;

	for (i = 0; i < nitems(cgroups); i++) {
		found = gpu_parse_cgroup(cgroups[i].text, strlen(cgroups[i].text), &ref);
		if (found != (cgroups[i].uid != NULL))
			fail_msg("%s: found %d", cgroups[i].src, found);
		if (cgroups[i].uid != NULL) {
			assert_string_equal(ref.pod_uid, cgroups[i].uid);
			assert_string_equal(ref.qos, cgroups[i].qos);
			if (cgroups[i].container == NULL)
				assert_null(ref.container_id);
			else
				assert_string_equal(ref.container_id, cgroups[i].container);
		} else
			assert_null(ref.pod_uid);
		gpu_cgroup_ref_clear(&ref);
	}
}

/* ---- whole answers ---- */

#define NONCE "0123456789abcdef"
#define M "@@paia " NONCE " "

static const char answer_good[] =
    "Welcome, says the login shell\n"
    M "begin 1\n"
    M "query-gpu\n"
    "0, GPU-00000000-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, [N/A], [N/A], 11125, 81559, 53, 433.78, 700.00, 1980, P0\n"
    "1, GPU-1, NVIDIA L40S, 9, 2, 1235, 46068, 54, 110.23, 350.00, 2520, P0\n"
    "\n"
    M "rc 0\n"
    M "list\n"
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-00000000-0000-0000-0000-000000000000)\n"
    "  MIG 3g.40gb     Device  0: (UUID: MIG-00000000-0000-0000-0000-000000000000)\n"
    "  MIG 2g.20gb     Device  1: (UUID: MIG-00000001-0000-0000-0000-000000000001)\n"
    "GPU 1: NVIDIA L40S (UUID: GPU-1)\n"
    "\n"
    M "rc 0\n"
    M "compute-apps\n"
    "GPU-00000000-0000-0000-0000-000000000000, 21180, 2296, /root/tools/memhog\n"
    "MIG-00000001-0000-0000-0000-000000000001, 21181, 1272, python3 a,b\n"
    "GPU-1, 20037, 538, ffmpeg\n"
    "GPU-gone, 20038, 681, ffmpeg\n"
    "\n"
    M "rc 0\n"
    M "cgroup 21180\n"
    "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod03f3f104_3215_44f2_9686_d4dd1f05a7ed.slice/cri-containerd-09d185410c4e25236cc24717f881589bb0978b24eafd101624e627a4dd8d3439.scope\n"
    "\n"
    M "cgroup 20037\n"
    "head: cannot open '/proc/20037/cgroup' for reading: No such file or directory\n"
    "\n"
    M "a-newer-section x\n"
    "ignored\n"
    M "display :0\n"
    "socket 1\n"
    "check xset 0\n"
    M "end\n";

static void
test_answer_good(void **state)
{
	struct gpu_report *r;
	char *cause = NULL;

	r = gpu_answer_parse(answer_good, strlen(answer_good), NONCE, &cause);
	if (r == NULL)
		fail_msg("%s", cause);
	assert_int_equal(r->ngpus, 2);
	assert_int_equal(r->gpus[0].nmigs, 2);
	assert_int_equal(r->nprocs, 4);
	assert_null(r->apps_error);
	/* On the GPU, on a MIG device, on GPU 1, on no GPU the list knows. */
	assert_int_equal(r->procs[0].gpu, 0);
	assert_int_equal(r->procs[0].mig, -1);
	assert_int_equal(r->procs[1].gpu, 0);
	assert_int_equal(r->procs[1].mig, 1);
	assert_string_equal(r->procs[1].name, "python3 a,b");
	assert_int_equal(r->procs[2].gpu, 1);
	assert_int_equal(r->procs[3].gpu, -1);
	assert_string_equal(r->procs[0].pod_uid, "03f3f104-3215-44f2-9686-d4dd1f05a7ed");
	assert_null(r->procs[2].pod_uid);
	assert_int_equal(r->display, GPU_DISPLAY_UP);
	assert_string_equal(r->display_name, ":0");
	assert_string_equal(r->display_detail, "xset answered");
	gpu_report_free(r);
}

static const struct {
	const char *name, *answer, *want;	/* want NULL: parses */
} answers[] = {
	{ "empty", "", "no begin marker in 0 bytes" },
	{ "cut before the end", M "begin 1\n" M "query-gpu\n0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n",
	  "cut short: no end marker" },
	{ "a marker of another round first", "@@paia fedcba9876543210 begin 1\n",
	  "line 1: not a GPU probe answer (\"@@paia fedcba9876543210 begin 1\"): a marker of another round" },
	{ "a newer answer version", M "begin 2\n", "line 1: probe answer version \"2\", 1 expected" },
	{ "a chatty shell: too many lines before begin",
	  "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n21\n22\n23\n24\n25\n"
	  "26\n27\n28\n29\n30\n31\n32\n33\n34\n35\n36\n37\n38\n39\n40\n41\n42\n43\n44\n45\n46\n47\n48\n"
	  "49\n50\n51\n52\n53\n54\n55\n56\n57\n58\n59\n60\n61\n62\n63\n64\n65\n" M "begin 1\n",
	  "line 65: not a GPU probe answer (\"65\")" },
	{ "no query section", M "begin 1\n" M "end\n", "no query-gpu section" },
	{ "the driver is gone", M "begin 1\n" M "query-gpu\n"
	  "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.\n\n"
	  M "rc 9\n" M "end\n",
	  "nvidia-smi --query-gpu exited 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." },
	{ "no nvidia-smi", M "begin 1\n" M "query-gpu\ntimeout: failed to run command 'nvidia-smi': No such file or directory\n\n" M "rc 127\n" M "end\n",
	  "nvidia-smi --query-gpu: not found on the node (timeout: failed to run command 'nvidia-smi'" },
	{ "nvidia-smi hung and was killed", M "begin 1\n" M "query-gpu\n\n" M "rc 124\n" M "end\n",
	  "nvidia-smi --query-gpu did not finish in time on the node" },
	{ "an exit status outside a section", M "begin 1\n" M "rc 0\n" M "end\n",
	  "line 2: an exit status outside a command's section" },
	{ "an exit status that is not one", M "begin 1\n" M "query-gpu\n" M "rc x\n",
	  "line 3: exit status \"x\" is not a number" },
	{ "garbage in the GPU list: the line of the answer is named",
	  M "begin 1\n" M "query-gpu\n0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\nSegmentation fault\n\n" M "rc 0\n" M "end\n",
	  "line 4: \"Segmentation fault\": 1 fields, 12 expected" },
	{ "an empty GPU list is a node without GPUs", M "begin 1\n" M "query-gpu\n\n" M "rc 0\n" M "end\n", NULL },
};

static void
test_answers(void **state)
{
	struct gpu_report *r;
	char *cause;
	size_t i;

	for (i = 0; i < nitems(answers); i++) {
		cause = NULL;
		r = gpu_answer_parse(answers[i].answer, strlen(answers[i].answer), NONCE, &cause);
		if (answers[i].want == NULL) {
			if (r == NULL)
				fail_msg("%s: %s", answers[i].name, cause);
			gpu_report_free(r);
			continue;
		}
		if (r != NULL)
			fail_msg("%s: accepted", answers[i].name);
		if (strstr(cause, answers[i].want) == NULL)
			fail_msg("%s:\n got %s\nwant %s", answers[i].name, cause, answers[i].want);
		free(cause);
	}
}

/* A process list users can spoil costs the list, not the GPUs. */
static void
test_answer_apps_spoiled(void **state)
{
	static const char a1[] =
	    M "begin 1\n" M "query-gpu\n0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n\n" M "rc 0\n"
	    M "compute-apps\nGPU-0, 12, 10, ok\nname\n" M "cgroup 1\n" M "end\n";
	static const char a2[] =
	    M "begin 1\n" M "query-gpu\n0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n\n" M "rc 0\n"
	    M "compute-apps\n[Insufficient Permissions]\n\n" M "rc 4\n" M "end\n";
	/* A process named to look like a section of another round. */
	static const char a3[] =
	    M "begin 1\n" M "query-gpu\n0, GPU-0, T, 1, 1, 1, 1, 1, 1, 1, 1, P0\n\n" M "rc 0\n"
	    M "compute-apps\nGPU-0, 12, 10, evil\n@@paia 0000000000000000 end\n\n" M "rc 0\n" M "end\n";
	struct gpu_report *r;
	char *cause = NULL;

	r = gpu_answer_parse(a1, strlen(a1), NONCE, &cause);
	assert_non_null(r);
	/* Section compute-apps never got its rc: the answer says so. */
	assert_string_equal(r->apps_error, "the answer has no compute-apps section");
	gpu_report_free(r);

	r = gpu_answer_parse(a2, strlen(a2), NONCE, &cause);
	assert_non_null(r);
	assert_int_equal(r->ngpus, 1);
	assert_string_equal(r->apps_error,
	    "nvidia-smi --query-compute-apps exited 4: [Insufficient Permissions]");
	gpu_report_free(r);

	r = gpu_answer_parse(a3, strlen(a3), NONCE, &cause);
	assert_non_null(r);
	assert_int_equal(r->ngpus, 1);
	assert_int_equal(r->nprocs, 0);
	assert_non_null(strstr(r->apps_error, "line 8: \"@@paia 0000000000000000 end\": 1 fields"));
	gpu_report_free(r);
}

static void
test_answer_display(void **state)
{
	static const struct {
		const char *body;
		enum gpu_display_state want;
		const char *detail;
	} cases[] = {
		{ "socket 1\ncheck xdpyinfo 0\n", GPU_DISPLAY_UP, "xdpyinfo answered" },
		{ "socket 0\ncheck xset 1\n", GPU_DISPLAY_DOWN, "xset got no answer (exit 1); no X socket" },
		{ "socket 1\ncheck xset 124\n", GPU_DISPLAY_DOWN, "xset got no answer (exit 124)" },
		{ "socket 1\ncheck none\n", GPU_DISPLAY_UNKNOWN,
		  "X socket present; no xset or xdpyinfo on the node to ask" },
		{ "socket 0\ncheck none\n", GPU_DISPLAY_DOWN, "no X socket" },
		{ "", GPU_DISPLAY_DOWN, "no X socket" },
	};
	struct gpu_report *r;
	char *answer, *cause = NULL;
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		xasprintf(&answer, "%s%s%s%s%s%s%s", M "begin 1\n", M "query-gpu\n\n", M "rc 0\n",
		    M "display :0\n", cases[i].body, "", M "end\n");
		r = gpu_answer_parse(answer, strlen(answer), NONCE, &cause);
		assert_non_null(r);
		assert_int_equal(r->display, cases[i].want);
		assert_string_equal(r->display_detail, cases[i].detail);
		gpu_report_free(r);
		free(answer);
	}
	/* No display section: not asked. */
	answer = xstrdup(M "begin 1\n" M "query-gpu\n\n" M "rc 0\n" M "end\n");
	r = gpu_answer_parse(answer, strlen(answer), NONCE, &cause);
	assert_int_equal(r->display, GPU_DISPLAY_UNCHECKED);
	assert_null(r->display_name);
	gpu_report_free(r);
	free(answer);
}

/* The command: the script quoted for sh, the arguments after it. */
static void
test_command(void **state)
{
	char *cmd = gpu_probe_command(NONCE, 4, "/srv/it's proc", NULL);

	assert_true(strncmp(cmd, "sh -c '", 7) == 0);
	assert_non_null(strstr(cmd, "' paia-gpu-probe " NONCE " 4 '/srv/it'\\''s proc' ':0'"));
	assert_non_null(strstr(gpu_probe_script(), "--query-gpu=" GPU_QUERY_FIELDS " "));
	assert_non_null(strstr(gpu_probe_script(), "--query-compute-apps=" GPU_APPS_FIELDS " "));
	assert_null(strstr(gpu_probe_script(), "\n#"));	/* comments dropped */
	free(cmd);
}

static void
test_names(void **state)
{
	assert_string_equal(gpu_value_state_name(GPU_VALUE_NO_PERMISSION), "insufficient permissions");
	assert_string_equal(gpu_display_state_name(GPU_DISPLAY_UNKNOWN), "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_real),
		cmocka_unit_test(test_query_several),
		cmocka_unit_test(test_query_bad),
		cmocka_unit_test(test_query_too_many),
		cmocka_unit_test(test_apps),
		cmocka_unit_test(test_apps_bad),
		cmocka_unit_test(test_list_mig),
		cmocka_unit_test(test_cgroup),
		cmocka_unit_test(test_answer_good),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_answer_apps_spoiled),
		cmocka_unit_test(test_answer_display),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
