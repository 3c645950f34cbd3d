package shell

import "strings"

// The commands about ACLs and identities.

func (sh *shell) getACL(words []string) error {
	cl, err := parseOptions("s", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("getAcl")
	}
	acl, st, err := sh.session.getACL(cl.args[1])
	if err != nil {
		return commandError(err)
	}
	var b strings.Builder
	for _, a := range acl {
		b.WriteString(formatACL(a) + "\n")
	}
	if cl.has('s') {
		b.WriteString(formatStat(&st))
	}
	sh.out(b.String())
	return nil
}

func (sh *shell) setACL(words []string) error {
	cl, err := parseOptions("sv:R", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 3 {
		return usageError("setAcl")
	}
	path := cl.args[1]
	acl := parseACL(cl.args[2], sh.errln)
	version, err := versionOption(cl)
	if err != nil {
		return err
	}
	if cl.has('R') {
		// A node that refuses is reported, without a newline, and the
		// walk goes on, as in zkCli.
		return commandErrorOrNil(sh.visitTree(path, false, func(p string) {
			if _, err := sh.session.setACL(p, acl, version); err != nil {
				sh.out(err.Error())
			}
		}))
	}
	st, err := sh.session.setACL(path, acl, version)
	if err != nil {
		return commandError(err)
	}
	if cl.has('s') {
		sh.out(formatStat(&st))
	}
	return nil
}

func (sh *shell) addAuth(words []string) error {
	cl, err := parseOptions("", words)
	if err != nil {
		return err
	}
	if len(cl.args) < 2 {
		return usageError("addauth")
	}
	var auth []byte
	if len(cl.args) > 2 {
		auth = []byte(cl.args[2])
	}
	sh.session.addAuth(cl.args[1], auth)
	return nil
}

func (sh *shell) whoAmI([]string) error {
	infos, err := sh.session.whoAmI()
	if err != nil {
		return commandError(err)
	}
	var b strings.Builder
	b.WriteString("Auth scheme: User\n")
	for _, i := range infos {
		b.WriteString(i.AuthScheme + ": " + i.User + "\n")
	}
	sh.out(b.String())
	return nil
}
