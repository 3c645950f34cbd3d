package shell

import (
	"errors"
	"strconv"

	"github.com/meerkat-zk/meerkat/jute"
)

// The commands that read and write znodes.

// lsHelp is what ls -? prints (the option list of Commons CLI's help).
const lsHelp = "usage: ls [options] path\n -?   help\n -R   recurse\n -s   stat\n -w   watch\n"

func (sh *shell) ls(words []string) error {
	cl, err := sh.parse("?swR", words, "'ls path [watch]' has been deprecated. Please use 'ls [-w] path' instead.")
	if err != nil {
		return err
	}
	if cl.has('?') {
		sh.out(lsHelp)
	}
	if len(cl.args) < 2 {
		return usageError("ls")
	}
	path, watch := cl.args[1], cl.has('w')
	if cl.has('R') {
		err := sh.visitTree(path, watch, func(p string) { sh.outln(p) })
		return commandErrorOrNil(err)
	}
	children, st, err := sh.session.getChildren(path, watch, cl.has('s'))
	if err != nil {
		return commandError(err)
	}
	sortJava(children)
	out := javaList(children) + "\n"
	if cl.has('s') {
		out += formatStat(&st)
	}
	sh.out(out)
	return nil
}

// visitTree calls visit for path and every node below it, depth first, a
// node's children in order before their own children, as zkCli's ls -R
// (and setAcl -R) walk; watch sets a data watch on path and child watches
// on every node.
func (sh *shell) visitTree(path string, watch bool, visit func(string)) error {
	if err := validatePath(path); err != nil {
		return err
	}
	if _, _, err := sh.session.getData(path, watch); err != nil {
		return err
	}
	visit(path)
	return sh.visitChildren(path, watch, visit)
}

func (sh *shell) visitChildren(path string, watch bool, visit func(string)) error {
	children, _, err := sh.session.getChildren(path, watch, false)
	if isCode(err, jute.CodeNoNode) {
		return nil // deleted since listed
	} else if err != nil {
		return err
	}
	sortJava(children)
	prefix := path + "/"
	if path == "/" {
		prefix = "/"
	}
	for _, c := range children {
		visit(prefix + c)
	}
	for _, c := range children {
		if err := sh.visitChildren(prefix+c, watch, visit); err != nil {
			return err
		}
	}
	return nil
}

// isCode reports whether err is a refusal with code.
func isCode(err error, code jute.Code) bool {
	var ke *keeperError
	return errors.As(err, &ke) && ke.code == code
}

// commandErrorOrNil is commandError, keeping nil.
func commandErrorOrNil(err error) error {
	if err == nil {
		return nil
	}
	return commandError(err)
}

func (sh *shell) get(words []string) error {
	cl, err := sh.parse("sw", words, "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.")
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("get")
	}
	data, st, err := sh.session.getData(cl.args[1], cl.has('w'))
	if err != nil {
		return commandError(err)
	}
	out := "null\n"
	if data != nil {
		out = javaString(data) + "\n"
	}
	if cl.has('s') {
		out += formatStat(&st)
	}
	sh.out(out)
	return nil
}

func (sh *shell) stat(words []string) error {
	cl, err := sh.parse("w", words, "'stat path [watch]' has been deprecated. Please use 'stat [-w] path' instead.")
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("stat")
	}
	path := cl.args[1]
	st, err := sh.session.exists(path, cl.has('w'))
	if err != nil {
		return commandError(err)
	}
	if st == nil {
		return commandError(&keeperError{code: jute.CodeNoNode, path: path})
	}
	sh.out(formatStat(st))
	return nil
}

// openACL is the ACL of a node created without one: anyone may do anything.
var openACL = []jute.ACL{{Perms: jute.PermAll, ID: jute.ID{Scheme: "world", ID: "anyone"}}}

func (sh *shell) create(words []string) error {
	cl, err := parseOptions("esct:", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("create")
	}
	e, s, c, t := cl.has('e'), cl.has('s'), cl.has('c'), cl.has('t')
	if c && (e || s) {
		return failf("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	var ttl int64
	if t {
		if ttl, err = strconv.ParseInt(cl.value('t'), 10, 64); err != nil {
			return failf("-t argument must be a long value")
		}
	}
	if t && e {
		return failf("TTLs cannot be used with Ephemeral znodes")
	}
	if t && c {
		return failf("TTLs cannot be used with Container znodes")
	}
	var flags int32
	switch {
	case e:
		flags = flagEphemeral
		if s {
			flags |= flagSequential
		}
	case s && t:
		flags = modeTTL + 1
	case s:
		flags = flagSequential
	case c:
		flags = modeContainer
	case t:
		flags = modeTTL
	}
	if t {
		if err := checkTTL(ttl); err != nil {
			return failf(err.Error())
		}
	}
	var data []byte
	if len(cl.args) > 2 {
		data = []byte(cl.args[2])
	}
	acl := openACL
	if len(cl.args) > 3 {
		acl = parseACL(cl.args[3], sh.errln)
	}
	created, err := sh.session.create(cl.args[1], data, acl, flags, ttl)
	switch {
	case err == nil:
		sh.errln("Created " + created)
		return nil
	case isCode(err, jute.CodeEphemeralOnLocalSession):
		sh.errln("Unable to create ephemeral node on a local session")
	case isCode(err, jute.CodeInvalidACL):
		sh.errln(err.Error())
	}
	return commandError(err)
}

// versionOption returns the value of -v, -1 without one.
func versionOption(cl *cmdLine) (int32, error) {
	if !cl.has('v') {
		return -1, nil
	}
	v, ok := parseInt(cl.value('v'))
	if !ok {
		return 0, failf("-v argument must be an int value")
	}
	return v, nil
}

func (sh *shell) set(words []string) error {
	cl, err := parseOptions("sv:", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 3 {
		return usageError("set")
	}
	version, err := versionOption(cl)
	if err != nil {
		return err
	}
	st, err := sh.session.setData(cl.args[1], []byte(cl.args[2]), version)
	if err != nil {
		return commandError(err)
	}
	if cl.has('s') {
		sh.out(formatStat(&st))
	}
	return nil
}

func (sh *shell) delete(words []string) error {
	cl, err := sh.parse("v:", words, "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' instead.")
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("delete")
	}
	version, err := versionOption(cl)
	if err != nil {
		return err
	}
	return commandErrorOrNil(sh.session.delete(cl.args[1], version))
}

func (sh *shell) deleteAll(words []string) error {
	cl, err := parseOptions("b:", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("deleteall")
	}
	batch := int32(1000)
	if cl.has('b') {
		var ok bool
		if batch, ok = parseInt(cl.value('b')); !ok {
			return failf("-b argument must be an int value")
		}
	}
	tree, err := sh.subtree(cl.args[1])
	if err != nil {
		return commandError(err)
	}
	// Leaves first, in multis of batch deletes; stop at the first failure.
	for end := len(tree); end > 0; {
		start := 0
		if batch > 0 && end > int(batch) {
			start = end - int(batch)
		}
		ops := make([]string, 0, end-start)
		for i := end - 1; i >= start; i-- {
			ops = append(ops, tree[i])
		}
		if !sh.session.deleteAll(ops) {
			sh.errln("Failed to delete some node(s) in the subtree!")
			break
		}
		end = start
	}
	return nil
}

// subtree lists path and every node below it, breadth first.
func (sh *shell) subtree(path string) ([]string, error) {
	if err := validatePath(path); err != nil {
		return nil, err
	}
	tree := []string{path}
	for i := 0; i < len(tree); i++ {
		children, _, err := sh.session.getChildren(tree[i], false, false)
		if err != nil {
			return nil, err
		}
		prefix := tree[i] + "/"
		if tree[i] == "/" {
			prefix = "/"
		}
		for _, c := range children {
			tree = append(tree, prefix+c)
		}
	}
	return tree, nil
}

func (sh *shell) sync(words []string) error {
	cl, err := parseOptions("", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("sync")
	}
	code, err := sh.session.sync(cl.args[1])
	if err != nil {
		return commandError(err)
	}
	if code == jute.CodeOK {
		sh.outln("Sync is OK")
	} else {
		sh.outln("Sync has failed. rc=" + strconv.Itoa(int(code)))
	}
	return nil
}

func (sh *shell) getAllChildrenNumber(words []string) error {
	cl, err := parseOptions("", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("getAllChildrenNumber")
	}
	n, err := sh.session.getAllChildrenNumber(cl.args[1])
	if err != nil {
		return commandError(err)
	}
	sh.outln(strconv.Itoa(int(n)))
	return nil
}

func (sh *shell) getEphemerals(words []string) error {
	cl, err := parseOptions("", words)
	if err != nil {
		return err
	}
	prefix := "/"
	if len(cl.args) >= 2 {
		prefix = cl.args[1]
	}
	paths, err := sh.session.getEphemerals(prefix)
	if err != nil {
		return commandError(err)
	}
	sh.outln(javaList(paths))
	return nil
}
