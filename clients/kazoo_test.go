package clients

import (
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meerkat-zk/meerkat/internal/zktest"
)

// kazooRecipes are the recipes testdata/kazoo_recipes.py runs (they live in
// testdata/recipes_*.py); each runs in its own python process, against its
// own znodes.
var kazooRecipes = []string{
	"lock", "election", "counter", "barrier", "double_barrier",
	"queue", "locking_queue", "semaphore", "watchers", "transaction",
	"rwlock", "party", "lease", "treecache", "partitioner",
	"session_expiry", "reconnect", "auth", "large_data", "chroot_and_4lw",
}

var (
	kazooOnce sync.Once
	kazooErr  string
)

// requireKazoo fails the test, loudly, when Debian's python3-kazoo is not
// importable by /usr/bin/python3.
func requireKazoo(t *testing.T) {
	t.Helper()
	requireFile(t, pythonPath, "python3")
	kazooOnce.Do(func() {
		out, err := exec.Command(pythonPath, "-c", "import kazoo.client").CombinedOutput()
		if err != nil {
			kazooErr = err.Error() + "\n" + string(out)
		}
	})
	if kazooErr != "" {
		t.Fatalf("%s cannot import kazoo: install the Debian package python3-kazoo (`make test` does): %s", pythonPath, kazooErr)
	}
}

// TestKazooRecipes runs each kazoo recipe, with several sessions contending
// where the recipe is about contention.
func TestKazooRecipes(t *testing.T) {
	script, err := filepath.Abs(filepath.Join("testdata", "kazoo_recipes.py"))
	if err != nil {
		t.Fatal(err)
	}
	eachServer(t, zktest.Options{}, func(t *testing.T, srv *zktest.Server) {
		for _, recipe := range kazooRecipes {
			t.Run(recipe, func(t *testing.T) {
				t.Parallel()
				requireKazoo(t)
				// The script's own watchdog (60s) fires first and dumps
				// every thread's stack; run's kill is the backstop.
				out, err := run(t, "kazoo "+recipe, 90*time.Second,
					[]string{"PYTHONPATH=", "PYTHONHOME=", "PYTHONDONTWRITEBYTECODE=1"}, "",
					pythonPath, script, srv.Addr, recipe, "60")
				if err != nil || !strings.Contains(out, "PASS "+recipe+"\n") {
					t.Errorf("%s: %s %s %s %s: %v\n--- output ---\n%s", srv.Name, pythonPath, filepath.Base(script), srv.Addr, recipe, err, out)
				}
				for _, line := range strings.Split(out, "\n") {
					if strings.HasPrefix(line, "INFO ") {
						t.Logf("%s: %s", srv.Name, line)
					}
				}
			})
		}
	})
}
