// etcd for the Kubernetes tests: upstream's etcd server (go.etcd.io/etcd/server/v3) behind a
// one-line main, at the version k8s.io/kubernetes itself requires (see ../go.mod), so that one
// wrapper module builds both peers. Built and cached by ../build.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
