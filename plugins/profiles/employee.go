package profiles

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// HDTSSlug is the slug of the help-desk system employees belong to (§4.8).
const HDTSSlug = "hdts"

// EmployeeRoleName is the role name of the synthetic employee assignment (§4.8).
const EmployeeRoleName = "Employee"

// EmployeeProfileJSON is the EmployeeProfile object of §4.8.
type EmployeeProfileJSON struct {
	ID             string           `json:"id"`
	Email          string           `json:"email"`
	Username       string           `json:"username"`
	FirstName      string           `json:"first_name"`
	MiddleName     *string          `json:"middle_name"`
	LastName       string           `json:"last_name"`
	Suffix         *string          `json:"suffix"`
	PhoneNumber    *string          `json:"phone_number"`
	CompanyID      string           `json:"company_id"`
	Department     *string          `json:"department"`
	Status         string           `json:"status"`
	ProfilePicture *string          `json:"profile_picture"`
	OTPEnabled     bool             `json:"otp_enabled"`
	OTPMethod      *string          `json:"otp_method"`
	LastLogin      *string          `json:"last_login"`
	CreatedAt      string           `json:"created_at"`
	UpdatedAt      string           `json:"updated_at"`
	FullName       string           `json:"full_name"`
	SystemRoles    []SystemRoleItem `json:"system_roles"`
}

// EmployeeFullName is the full_name of an employee (§3.2 note 3): first, middle and last name
// joined by single spaces, empty parts skipped.
func EmployeeFullName(employee *core.Record) string {
	var parts []string
	for _, f := range []string{"first_name", "middle_name", "last_name"} {
		if v := strings.TrimSpace(employee.GetString(f)); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, " ")
}

// EmployeeProfile builds the EmployeeProfile of an employees record (§4.8) with its one
// synthetic hdts item. If the hdts system does not exist, system_id and system_name are "".
func EmployeeProfile(app core.App, appURL string, employee *core.Record) (EmployeeProfileJSON, error) {
	var hdts struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	err := app.DB().Select("id", "name").From("systems").
		Where(dbx.HashExp{"slug": HDTSSlug}).Limit(1).One(&hdts)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return EmployeeProfileJSON{}, err
	}
	created := Timestamp(employee.GetDateTime("created"))
	lastLogin := NullTimestamp(employee.GetDateTime("last_login"))
	return EmployeeProfileJSON{
		ID:             employee.Id,
		Email:          employee.Email(),
		Username:       employee.GetString("username"),
		FirstName:      employee.GetString("first_name"),
		MiddleName:     NullString(employee.GetString("middle_name")),
		LastName:       employee.GetString("last_name"),
		Suffix:         NullString(employee.GetString("suffix")),
		PhoneNumber:    NullString(employee.GetString("phone_number")),
		CompanyID:      employee.GetString("company_id"),
		Department:     NullString(employee.GetString("department")),
		Status:         employee.GetString("status"),
		ProfilePicture: FileURL(appURL, employee.Collection().Name, employee.Id, employee.GetString("profile_picture")),
		OTPEnabled:     employee.GetBool("otp_enabled"),
		OTPMethod:      NullString(employee.GetString("otp_method")),
		LastLogin:      lastLogin,
		CreatedAt:      created,
		UpdatedAt:      Timestamp(employee.GetDateTime("updated")),
		FullName:       EmployeeFullName(employee),
		SystemRoles: []SystemRoleItem{{
			ID:           employee.Id,
			SystemID:     hdts.ID,
			SystemName:   hdts.Name,
			SystemSlug:   HDTSSlug,
			RoleID:       nil,
			RoleName:     EmployeeRoleName,
			AssignedAt:   created,
			LastLoggedOn: lastLogin,
			IsActive:     true,
		}},
	}, nil
}
