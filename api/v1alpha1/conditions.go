package v1alpha1

// Condition types: the kstatus triad, so Argo CD, Flux and kubectl wait agree.
const (
	// ConditionReady is True when the cloud matches the spec.
	ConditionReady = "Ready"
	// ConditionReconciling is True while work is pending.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when only a spec or outside change can help.
	ConditionStalled = "Stalled"
)

// Ready reasons of contract §3. Tests, the Argo CD health script's tests and
// users' `kubectl wait --for=condition=...` all rely on these exact words.
const (
	// ReasonProgressing: work is pending (first visit, shares or cancels to make).
	ReasonProgressing = "Progressing"
	// ReasonImageNotReady: the image is busy (CREATING, SYNCING, IMPORTING): waited for.
	ReasonImageNotReady = "ImageNotReady"
	// ReasonThrottled: the API rate limit was reached: retried when a slot is free.
	ReasonThrottled = "Throttled"
	// ReasonCloudError: InternalError, network errors, timeouts: retried with backoff.
	ReasonCloudError = "CloudError"
	// ReasonShared: the cloud matches the spec.
	ReasonShared = "Shared"
	// ReasonInSync: an Observe object whose image matches its list.
	ReasonInSync = "InSync"
	// ReasonShareLimitExceeded: listed accounts do not fit the image's share limit.
	ReasonShareLimitExceeded = "ShareLimitExceeded"
	// ReasonRegionMismatch: the image is not in spec.region.
	ReasonRegionMismatch = "RegionMismatch"
	// ReasonImageNotFound: the image exists in no region.
	ReasonImageNotFound = "ImageNotFound"
	// ReasonImageNotShareable: shared-to-me, public, BYOL, encrypted or failed image.
	ReasonImageNotShareable = "ImageNotShareable"
	// ReasonInvalidAccounts: some listed accounts cannot receive shares, or a
	// managed account's cancel was refused.
	ReasonInvalidAccounts = "InvalidAccounts"
	// ReasonCredentialsMissing: no Secret, no keys, or a namespace not allowed the manager's.
	ReasonCredentialsMissing = "CredentialsMissing"
	// ReasonCredentialsInvalid: the cloud rejected the keys (AuthFailure.*).
	ReasonCredentialsInvalid = "CredentialsInvalid"
	// ReasonPermissionDenied: the keys are valid but a CAM policy denies the action.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonConflict: another ImageShare of the same image and identity is Exclusive.
	ReasonConflict = "Conflict"
	// ReasonDriftDetected: an Observe object whose image differs from its list.
	ReasonDriftDetected = "DriftDetected"
	// ReasonCopyFailed: a replica region cannot get a copy (unknown region, quota, failed copy).
	ReasonCopyFailed = "CopyFailed"
	// ReasonCopyRetained: a status.regions entry (and Warning event) for a
	// region the object left whose copy copyDeletionPolicy Delete could not
	// delete, because another party still shares it.
	ReasonCopyRetained = "CopyRetained"

	// ReasonExpired: past spec.expiresAt; nothing is shared, which is the
	// desired state (Ready True).
	ReasonExpired = "Expired"
	// ReasonAccountsSourceNotFound: a ConfigMap or key spec.accountsFrom names
	// does not exist; the object is frozen until it is back (Stalled).
	ReasonAccountsSourceNotFound = "AccountsSourceNotFound"
	// ReasonNoImagesSelected: an ImageSharePolicy whose selector matches no
	// NORMAL image (Ready True: nothing to share).
	ReasonNoImagesSelected = "NoImagesSelected"
	// ReasonChildRejected: the API server refused to create or update an
	// ImageSharePolicy's child ImageShare (Stalled, naming the error).
	ReasonChildRejected = "ChildRejected"
)

// Reasons of status.failedAccounts entries.
const (
	// AccountReasonShareLimitExceeded: the account does not fit the share limit.
	AccountReasonShareLimitExceeded = "ShareLimitExceeded"
	// AccountReasonNotFound: no Tencent Cloud account has this ID.
	AccountReasonNotFound = "AccountNotFound"
	// AccountReasonIsOwner: the image owner's own account.
	AccountReasonIsOwner = "AccountIsOwner"
	// AccountReasonNotRoot: a collaborator (sub) account.
	AccountReasonNotRoot = "NotRootAccount"
	// AccountReasonInvalidID: the cloud refused the ID's format.
	AccountReasonInvalidID = "InvalidAccountId"
)

// ReadyReasons are the reasons the Ready condition of an ImageShare can
// carry, in the contract's order: what a metric or a test that must cover
// them all iterates.
var ReadyReasons = []string{ReasonProgressing, ReasonImageNotReady, ReasonThrottled, ReasonCloudError,
	ReasonShared, ReasonInSync, ReasonExpired, ReasonShareLimitExceeded, ReasonRegionMismatch, ReasonImageNotFound,
	ReasonImageNotShareable, ReasonInvalidAccounts, ReasonAccountsSourceNotFound, ReasonCredentialsMissing,
	ReasonCredentialsInvalid, ReasonPermissionDenied, ReasonConflict, ReasonDriftDetected, ReasonCopyFailed}
