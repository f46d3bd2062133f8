// Package realm is the one description of Gatehouse's two populations of principals (§1.5):
// staff users (collection `users`) and help-desk employees (collection `employees`). Every
// mapping between a principal type, its auth collection, its relation column in the
// per-principal collections (sessions, codes, challenges) and the rule of who may act lives
// here; nothing else spells these names out.
package realm

import (
	"errors"

	"github.com/pocketbase/pocketbase/core"
)

// Principal types: the user_type values of §2.7–§2.10, §2.15, the JWT user_type claim (§3.2)
// and the audit actor types (§2.18).
const (
	TypeStaff    = "staff"
	TypeEmployee = "employee"
)

// Collection names of the two auth collections.
const (
	CollectionStaff    = "users"
	CollectionEmployee = "employees"
)

// StatusApproved is the only employee status that may obtain or use tokens (§5.12.4).
const StatusApproved = "Approved"

// ErrUnknown is returned for a principal type, collection or record that is neither staff nor
// employee.
var ErrUnknown = errors.New("realm: not a staff user or employee")

// Realm describes one population of principals.
type Realm struct {
	Type       string // principal type: "staff" or "employee"
	Collection string // its auth collection
	// Relation is its relation column in sessions, otp_codes, recovery_codes, mfa_challenges
	// (the other realm's column stays empty).
	Relation string
	// CompanyPrefix starts its company_id (hooks allocate it).
	CompanyPrefix string
	// Noun names one of its records as an audit target_type (§2.18).
	Noun string
}

// The two realms.
var (
	Staff    = &Realm{Type: TypeStaff, Collection: CollectionStaff, Relation: "user", CompanyPrefix: "MA", Noun: "user"}
	Employee = &Realm{Type: TypeEmployee, Collection: CollectionEmployee, Relation: "employee", CompanyPrefix: "EM", Noun: "employee"}
)

// All lists the realms.
var All = []*Realm{Staff, Employee}

// ByType returns the realm of a principal type.
func ByType(principalType string) (*Realm, error) {
	switch principalType {
	case TypeStaff:
		return Staff, nil
	case TypeEmployee:
		return Employee, nil
	}
	return nil, ErrUnknown
}

// ByCollection returns the realm of an auth collection name.
func ByCollection(name string) (*Realm, error) {
	switch name {
	case CollectionStaff:
		return Staff, nil
	case CollectionEmployee:
		return Employee, nil
	}
	return nil, ErrUnknown
}

// Of returns the realm of a users or employees record.
func Of(r *core.Record) (*Realm, error) {
	if r == nil || r.Collection() == nil {
		return nil, ErrUnknown
	}
	return ByCollection(r.Collection().Name)
}

// MayAct reports whether the principal may obtain and use tokens: staff `is_active = true`,
// employee `status = "Approved"` (§1.5). The record must belong to this realm.
func (r *Realm) MayAct(rec *core.Record) bool {
	if rec == nil || rec.Collection() == nil || rec.Collection().Name != r.Collection {
		return false
	}
	if r.Type == TypeEmployee {
		return rec.GetString("status") == StatusApproved
	}
	return rec.GetBool("is_active")
}

// Find loads the record of one of this realm's principals.
func (r *Realm) Find(app core.App, id string) (*core.Record, error) {
	return app.FindRecordById(r.Collection, id)
}

// Owns reports whether rec is a record of this realm.
func (r *Realm) Owns(rec *core.Record) bool {
	return rec != nil && rec.Collection() != nil && rec.Collection().Name == r.Collection
}
