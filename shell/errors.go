package shell

import (
	"errors"

	"github.com/meerkat-zk/meerkat/jute"
)

// cliError is a failed command: zkCli prints msg on stderr, and the exit
// code of one-shot mode (or of the session, if it was the last command) is
// code.
type cliError struct {
	msg  string
	code int
}

func (e *cliError) Error() string { return e.msg }

// failf is a failed command with exit code 1.
func failf(msg string) error { return &cliError{msg: msg, code: 1} }

// keeperError is a request the server (or the session) refused, as Java's
// KeeperException: a code, and the path of the request when it has one.
type keeperError struct {
	code   jute.Code
	path   string
	noPath bool
}

// Error is KeeperException's message.
func (e *keeperError) Error() string {
	if e.noPath || e.path == "" {
		return "KeeperErrorCode = " + codeMessage(e.code)
	}
	return "KeeperErrorCode = " + codeMessage(e.code) + " for " + e.path
}

// pathString is the path as Java prints a possibly null one.
func (e *keeperError) pathString() string {
	if e.noPath {
		return "null"
	}
	return e.path
}

// codeMessages are KeeperException's words for its codes.
var codeMessages = map[jute.Code]string{
	jute.CodeOK: "ok", jute.CodeSystemError: "SystemError",
	jute.CodeRuntimeInconsistency: "RuntimeInconsistency", jute.CodeDataInconsistency: "DataInconsistency",
	jute.CodeConnectionLoss: "ConnectionLoss", jute.CodeMarshallingError: "MarshallingError",
	jute.CodeNewConfigNoQuorum: "NewConfigNoQuorum", jute.CodeReconfigInProgress: "ReconfigInProgress",
	jute.CodeUnimplemented: "Unimplemented", jute.CodeOperationTimeout: "OperationTimeout",
	jute.CodeBadArguments: "BadArguments", jute.CodeAPIError: "APIError", jute.CodeNoNode: "NoNode",
	jute.CodeNoAuth: "NoAuth", jute.CodeBadVersion: "BadVersion",
	jute.CodeNoChildrenForEphemerals: "NoChildrenForEphemerals", jute.CodeNodeExists: "NodeExists",
	jute.CodeInvalidACL: "InvalidACL", jute.CodeAuthFailed: "AuthFailed", jute.CodeNotEmpty: "Directory not empty",
	jute.CodeSessionExpired: "Session expired", jute.CodeInvalidCallback: "Invalid callback",
	jute.CodeSessionMoved: "Session moved", jute.CodeNotReadOnly: "Not a read-only call",
	jute.CodeEphemeralOnLocalSession: "Ephemeral node on local session", jute.CodeNoWatcher: "No such watcher",
	jute.CodeReconfigDisabled:         "Reconfig is disabled",
	jute.CodeSessionClosedRequireSASL: "Session closed because client failed to authenticate",
	jute.CodeQuotaExceeded:            "Quota has exceeded", jute.CodeThrottledOp: "Op throttled due to high load",
}

func codeMessage(c jute.Code) string {
	if m, ok := codeMessages[c]; ok {
		return m
	}
	return "Unknown error " + c.String()
}

// argError is a request refused before it was sent, for a bad path or TTL
// (Java's IllegalArgumentException); zkCli prints its message as is.
type argError string

func (e argError) Error() string { return string(e) }

// commandWords are zkCli's own words for the common codes, which it
// prints followed by the path.
var commandWords = map[jute.Code]string{
	jute.CodeNoNode:                  "Node does not exist: ",
	jute.CodeNoChildrenForEphemerals: "Ephemerals cannot have children: ",
	jute.CodeNodeExists:              "Node already exists: ",
	jute.CodeNotEmpty:                "Node not empty: ",
	jute.CodeNotReadOnly:             "Not a read-only call: ",
	jute.CodeInvalidACL:              "Acl is not valid : ",
	jute.CodeNoAuth:                  "Insufficient permission : ",
	jute.CodeBadArguments:            "Arguments are not valid : ",
	jute.CodeBadVersion:              "version No is not valid : ",
	jute.CodeQuotaExceeded:           "Quota has exceeded : ",
}

// commandError turns a request's error into the failure zkCli reports for
// it: its own words for the common codes (with the path), the exception's
// message otherwise.
func commandError(err error) error {
	var ke *keeperError
	if !errors.As(err, &ke) {
		return failf(err.Error())
	}
	if words, ok := commandWords[ke.code]; ok {
		return failf(words + ke.pathString())
	}
	return failf(ke.Error())
}
