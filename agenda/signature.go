package agenda

import (
	"fmt"
	"time"

	"github.com/cau-bridge/cau/agenda/sigverify"
)

// publishSkew is how much earlier than a version's publication its
// signature may claim to be made, to allow for clocks that disagree.
const publishSkew = 5 * time.Minute

// VerifyManifestSignature checks a detached CMS signature (DER) over the
// exact manifest bytes with agenda/sigverify, which owns the trust
// decisions (chain to p.Roots, validity at signing time, key usage,
// algorithms). It adds the one rule that belongs to agendas: a manifest
// cannot have been signed before it was published, so a signing time or
// timestamp earlier than published_at makes the signature invalid (it
// would otherwise let a revoked or expired key sign with a back-dated
// clock). An error means the manifest or the signature could not be parsed
// at all; a signature that fails a check is a Result with Valid false.
func VerifyManifestSignature(manifest, p7s []byte, p sigverify.Policy) (*sigverify.Result, error) {
	m, err := ParseManifest(manifest)
	if err != nil {
		return nil, err
	}
	published, err := time.Parse(time.RFC3339, m.PublishedAt)
	if err != nil {
		return nil, fmt.Errorf("%w: published_at: %v", ErrBadManifest, err)
	}
	res, err := sigverify.VerifyDetached(manifest, p7s, p)
	if err != nil {
		return nil, fmt.Errorf("verify manifest signature: %w", err)
	}
	for _, t := range []*time.Time{res.SigningTime, res.TimestampTime} {
		if t != nil && t.Before(published.Add(-publishSkew)) {
			res.Reasons = append(res.Reasons, fmt.Sprintf("signed at %s, before version %d was published at %s",
				t.UTC().Format(time.RFC3339), m.Version, m.PublishedAt))
			res.Valid = false
		}
	}
	return res, nil
}
