// Wrapper main for the official Dapr runtime (`daprd`), built by bench/official-daprd.sh
// for the side-by-side benchmark and the interop tests. It is upstream's cmd/daprd main
// plus the SQLite name resolver, which upstream registers only under the `allcomponents`
// build tag (that tag does not build here); the resolver lets official sidecars find each
// other on loopback without mDNS.
package main

import (
	"github.com/dapr/components-contrib/nameresolution/sqlite"
	"github.com/dapr/dapr/cmd/daprd/app"
	nrLoader "github.com/dapr/dapr/pkg/components/nameresolution"
)

func main() {
	nrLoader.DefaultRegistry.RegisterComponent(sqlite.NewResolver, "sqlite")
	app.Run()
}
