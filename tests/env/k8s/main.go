// Command paia-k8s-testenv is one multi-call binary holding the parts of
// the PAIA Kubernetes test environment (tests/env/k8s.sh): kube-apiserver,
// kube-scheduler, kubectl, kwok and etcd, built from their Go modules at
// the versions pinned in go.mod. One binary links once and shares the
// packages the parts have in common, which roughly halves the cold build.
//
// The part runs by the name it is called as (a symlink named
// kube-apiserver, ...) or by its first argument:
//
//	paia-k8s-testenv kube-apiserver --etcd-servers=...
//
// It is a test tool: nothing here is shipped with the gateway.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/logs"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/etcdmain"
	kwokconfig "sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	kwoklog "sigs.k8s.io/kwok/pkg/log"
	"sigs.k8s.io/kwok/pkg/utils/signals"
)

var parts = map[string]func() int{
	"kube-apiserver": func() int { return cli.Run(apiserver.NewAPIServerCommand()) },
	"kube-scheduler": func() int { return cli.Run(scheduler.NewSchedulerCommand()) },
	"kubectl":        runKubectl,
	"kwok":           runKwok,
	"etcd":           func() int { etcdmain.Main(os.Args); return 0 },
}

// runKubectl is cmd/kubectl's main.
func runKubectl() int {
	logs.GlogSetter(kubectl.GetLogVerbosity(os.Args)) // nolint:errcheck
	if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
		kubectlutil.CheckErr(err)
	}
	return 0
}

// runKwok is kwok's cmd/kwok main.
func runKwok() int {
	// The Kubernetes packages register --version and others on pflag's
	// global set at init; cobra would merge them into kwok's and clash.
	pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
	flags := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flags.ParseErrorsAllowlist.UnknownFlags = true
	flags.Usage = func() {}
	ctx := signals.SetupSignalContext()
	ctx, logger := kwoklog.InitFlags(ctx, flags)
	ctx, err := kwokconfig.InitFlags(ctx, flags)
	if err != nil {
		_, _ = os.Stderr.Write([]byte(flags.FlagUsages()))
		logger.Error("Init config flags", "err", err)
		return 1
	}
	command := kwokcmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flags)
	if err := command.ExecuteContext(ctx); err != nil {
		logger.Error("Execute exit", "err", err)
		return 1
	}
	return 0
}

func main() {
	name := filepath.Base(os.Args[0])
	run, ok := parts[name]
	if !ok && len(os.Args) > 1 {
		// paia-k8s-testenv PART ARGS...: PART becomes argv[0].
		if run, ok = parts[os.Args[1]]; ok {
			os.Args = os.Args[1:]
		}
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "usage: %s kube-apiserver|kube-scheduler|kubectl|kwok|etcd [ARGS...]\n", name)
		os.Exit(2)
	}
	os.Exit(run())
}
