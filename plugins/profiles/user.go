package profiles

import (
	"cmp"
	"slices"

	"github.com/pocketbase/pocketbase/core"

	"gatehouse/plugins/config"
	"gatehouse/plugins/permissions"
)

// SystemRoleItem is an item of UserProfile.system_roles (§4.1), also used for the synthetic
// item of EmployeeProfile (§4.8, where role_id is null).
type SystemRoleItem struct {
	ID           string  `json:"id"`
	SystemID     string  `json:"system_id"`
	SystemName   string  `json:"system_name"`
	SystemSlug   string  `json:"system_slug"`
	RoleID       *string `json:"role_id"`
	RoleName     string  `json:"role_name"`
	AssignedAt   string  `json:"assigned_at"`
	LastLoggedOn *string `json:"last_logged_on"`
	IsActive     bool    `json:"is_active"`
}

// UserProfileJSON is the UserProfile object of §4.1.
type UserProfileJSON struct {
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
	Notified       bool             `json:"notified"`
	IsActive       bool             `json:"is_active"`
	IsStaff        bool             `json:"is_staff"`
	IsSuperuser    bool             `json:"is_superuser"`
	IsLocked       bool             `json:"is_locked"`
	ProfilePicture *string          `json:"profile_picture"`
	DateJoined     string           `json:"date_joined"`
	LastLogin      *string          `json:"last_login"`
	OTPEnabled     bool             `json:"otp_enabled"`
	OTPMethod      *string          `json:"otp_method"`
	SystemRoles    []SystemRoleItem `json:"system_roles"`
}

// UserProfile builds the UserProfile of a users record (§4.1). systemSlug "" lists every
// assignment of the user, active and inactive; a slug lists only that system's assignments
// (an unknown slug gives an empty list). appURL is the configured application URL (§1.1),
// used for profile_picture.
func UserProfile(app core.App, appURL string, user *core.Record, systemSlug string) (UserProfileJSON, error) {
	rows, err := permissions.Assignments(app, user.Id)
	if err != nil {
		return UserProfileJSON{}, err
	}
	if systemSlug != "" {
		rows = permissions.InSystem(rows, systemSlug)
	}
	items := make([]SystemRoleItem, 0, len(rows))
	for _, r := range rows {
		roleID := r.RoleID
		items = append(items, SystemRoleItem{
			ID:           r.ID,
			SystemID:     r.SystemID,
			SystemName:   r.SystemName,
			SystemSlug:   r.SystemSlug,
			RoleID:       &roleID,
			RoleName:     r.RoleName,
			AssignedAt:   Timestamp(r.AssignedAt),
			LastLoggedOn: NullTimestamp(r.LastLoggedOn),
			IsActive:     r.IsActive,
		})
	}
	return UserProfileJSON{
		ID:             user.Id,
		Email:          user.Email(),
		Username:       user.GetString("username"),
		FirstName:      user.GetString("first_name"),
		MiddleName:     NullString(user.GetString("middle_name")),
		LastName:       user.GetString("last_name"),
		Suffix:         NullString(user.GetString("suffix")),
		PhoneNumber:    NullString(user.GetString("phone_number")),
		CompanyID:      user.GetString("company_id"),
		Department:     NullString(user.GetString("department")),
		Status:         user.GetString("status"),
		Notified:       user.GetBool("notified"),
		IsActive:       user.GetBool("is_active"),
		IsStaff:        user.GetBool("is_staff"),
		IsSuperuser:    user.GetBool("is_superuser"),
		IsLocked:       IsLocked(user),
		ProfilePicture: FileURL(appURL, user.Collection().Name, user.Id, user.GetString("profile_picture")),
		DateJoined:     Timestamp(user.GetDateTime("created")),
		LastLogin:      NullTimestamp(user.GetDateTime("last_login")),
		OTPEnabled:     user.GetBool("otp_enabled"),
		OTPMethod:      NullString(user.GetString("otp_method")),
		SystemRoles:    items,
	}, nil
}

// LoginSystemRole is an item of LoginUser.system_roles (§4.2).
type LoginSystemRole struct {
	SystemName string `json:"system_name"`
	SystemSlug string `json:"system_slug"`
	RoleName   string `json:"role_name"`
	AssignedAt string `json:"assigned_at"`
}

// LoginUserJSON is the LoginUser object of §4.2.
type LoginUserJSON struct {
	ID          string            `json:"id"`
	Email       string            `json:"email"`
	Username    string            `json:"username"`
	FirstName   string            `json:"first_name"`
	MiddleName  *string           `json:"middle_name"`
	LastName    string            `json:"last_name"`
	Suffix      *string           `json:"suffix"`
	PhoneNumber *string           `json:"phone_number"`
	CompanyID   string            `json:"company_id"`
	Department  *string           `json:"department"`
	Status      string            `json:"status"`
	Notified    bool              `json:"notified"`
	IsStaff     bool              `json:"is_staff"`
	IsSuperuser bool              `json:"is_superuser"`
	OTPEnabled  bool              `json:"otp_enabled"`
	OTPMethod   *string           `json:"otp_method"`
	DateJoined  string            `json:"date_joined"`
	SystemRoles []LoginSystemRole `json:"system_roles"`
}

// RedirectJSON is the Redirect object of §4.3.
type RedirectJSON struct {
	PrimarySystem    *string           `json:"primary_system"`
	URL              string            `json:"url"`
	AvailableSystems map[string]string `json:"available_systems"`
}

// LoginUser builds the LoginUser of a users record (§4.2): active assignments only.
func LoginUser(app core.App, user *core.Record) (LoginUserJSON, error) {
	rows, err := activeAssignments(app, user.Id)
	if err != nil {
		return LoginUserJSON{}, err
	}
	return loginUser(user, rows), nil
}

// RedirectFor builds the Redirect of a users record (§4.3) from its active assignments: the
// primary system is the system of the earliest active assignment (assigned_at, then assignment
// id); URLs fall back to cfg.SystemFallbackURL (DEFAULT_SYSTEM_URL, else APP_URL).
func RedirectFor(app core.App, cfg *config.Config, user *core.Record) (RedirectJSON, error) {
	rows, err := activeAssignments(app, user.Id)
	if err != nil {
		return RedirectJSON{}, err
	}
	return redirect(cfg.SystemFallbackURL(app), rows), nil
}

// ForLogin builds LoginUser and Redirect together from one query (what the login endpoints
// answer).
func ForLogin(app core.App, cfg *config.Config, user *core.Record) (LoginUserJSON, RedirectJSON, error) {
	rows, err := activeAssignments(app, user.Id)
	if err != nil {
		return LoginUserJSON{}, RedirectJSON{}, err
	}
	return loginUser(user, rows), redirect(cfg.SystemFallbackURL(app), rows), nil
}

// activeAssignments are a user's active assignments (permissions.Assignments, a new slice).
func activeAssignments(app core.App, userID string) ([]permissions.Assignment, error) {
	rows, err := permissions.Assignments(app, userID)
	if err != nil {
		return nil, err
	}
	return permissions.Active(rows), nil
}

func loginUser(user *core.Record, rows []permissions.Assignment) LoginUserJSON {
	roles := make([]LoginSystemRole, 0, len(rows))
	for _, r := range rows {
		roles = append(roles, LoginSystemRole{
			SystemName: r.SystemName,
			SystemSlug: r.SystemSlug,
			RoleName:   r.RoleName,
			AssignedAt: Timestamp(r.AssignedAt),
		})
	}
	return LoginUserJSON{
		ID:          user.Id,
		Email:       user.Email(),
		Username:    user.GetString("username"),
		FirstName:   user.GetString("first_name"),
		MiddleName:  NullString(user.GetString("middle_name")),
		LastName:    user.GetString("last_name"),
		Suffix:      NullString(user.GetString("suffix")),
		PhoneNumber: NullString(user.GetString("phone_number")),
		CompanyID:   user.GetString("company_id"),
		Department:  NullString(user.GetString("department")),
		Status:      user.GetString("status"),
		Notified:    user.GetBool("notified"),
		IsStaff:     user.GetBool("is_staff"),
		IsSuperuser: user.GetBool("is_superuser"),
		OTPEnabled:  user.GetBool("otp_enabled"),
		OTPMethod:   NullString(user.GetString("otp_method")),
		DateJoined:  Timestamp(user.GetDateTime("created")),
		SystemRoles: roles,
	}
}

// redirect computes §4.3 from active assignment rows (any order).
func redirect(fallback string, rows []permissions.Assignment) RedirectJSON {
	out := RedirectJSON{URL: fallback, AvailableSystems: map[string]string{}}
	urlOf := func(r permissions.Assignment) string {
		if r.SystemURL != "" {
			return r.SystemURL
		}
		return fallback
	}
	for _, r := range rows {
		out.AvailableSystems[r.SystemSlug] = urlOf(r)
	}
	if len(rows) == 0 {
		return out
	}
	first := slices.MinFunc(rows, func(a, b permissions.Assignment) int {
		if c := a.AssignedAt.Compare(b.AssignedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	slug := first.SystemSlug
	out.PrimarySystem = &slug
	out.URL = urlOf(first)
	return out
}
