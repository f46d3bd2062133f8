package apidocs

import (
	"slices"

	"gatehouse/plugins/apikit"
)

// The shared objects of §4 and the error envelope of §1.3, as the document's components.

func str() schema                    { return schema{"type": "string"} }
func nstr() schema                   { return schema{"type": []string{"string", "null"}} }
func ts() schema                     { return schema{"type": "string", "format": "date-time"} }
func nts() schema                    { return schema{"type": []string{"string", "null"}, "format": "date-time"} }
func boolean() schema                { return schema{"type": "boolean"} }
func integer() schema                { return schema{"type": "integer"} }
func arrayOf(items schema) schema    { return schema{"type": "array", "items": items} }
func enumOf(values ...string) schema { return schema{"type": "string", "enum": values} }

// object is a closed description of a response object: every listed key is always present
// (§4), so all are required.
func object(desc string, props map[string]schema, optional ...string) schema {
	var required []string
	for k := range props {
		if !slices.Contains(optional, k) {
			required = append(required, k)
		}
	}
	slices.Sort(required)
	s := schema{"type": "object", "properties": props, "required": required}
	if desc != "" {
		s["description"] = desc
	}
	return s
}

func components() map[string]any {
	userFields := func() map[string]schema {
		return map[string]schema{
			"id": str(), "email": str(), "username": str(), "first_name": str(), "middle_name": nstr(),
			"last_name": str(), "suffix": nstr(), "phone_number": nstr(), "company_id": str(),
			"department": nstr(), "status": enumOf("Pending", "Approved", "Rejected"), "notified": boolean(),
			"is_staff": boolean(), "is_superuser": boolean(), "otp_enabled": boolean(),
			"otp_method":  schema{"type": []string{"string", "null"}, "enum": []any{"totp", "email", nil}},
			"date_joined": ts(),
		}
	}
	profile := userFields()
	profile["is_active"] = boolean()
	profile["is_locked"] = boolean()
	profile["profile_picture"] = nstr()
	profile["last_login"] = nts()
	profile["system_roles"] = arrayOf(apikit.Ref("SystemRoleItem"))

	login := userFields()
	login["system_roles"] = arrayOf(object("An active assignment.", map[string]schema{
		"system_name": str(), "system_slug": str(), "role_name": str(), "assigned_at": ts(),
	}))

	validated := schema{"allOf": []any{apikit.Ref("UserProfile"), object("", map[string]schema{
		"token_validated_at": ts(), "token_expires_at": ts(),
	})}}

	tokenFields := func(extra map[string]schema) map[string]schema {
		m := map[string]schema{
			"access":       str(),
			"access_hs256": schema{"type": "string", "description": "Only in compatibility mode (JWT_HS256_SECRET)."},
			"refresh":      str(),
			"token_type":   enumOf("Bearer"),
			"expires_in":   integer(),
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}

	schemas := map[string]any{
		"Error": schema{
			"type":        "object",
			"description": "The error envelope of every 4xx and 5xx answer (§1.3). `errors` only with code `invalid`.",
			"properties": map[string]schema{
				"detail": str(),
				"code": enumOf("invalid", "invalid_credentials", "captcha_required", "otp_required", "otp_invalid",
					"not_authenticated", "token_not_valid", "permission_denied", "account_locked", "account_pending",
					"account_rejected", "not_found", "method_not_allowed", "conflict", "no_eligible_agent",
					"payload_too_large", "unsupported_media_type", "too_many_requests", "server_error"),
				"errors": schema{"type": "object", "additionalProperties": arrayOf(str()),
					"description": "Field name (or `non_field_errors`) → messages."},
			},
			"required": []string{"detail", "code"},
		},
		"SystemRoleItem": object("", map[string]schema{
			"id": str(), "system_id": str(), "system_name": str(), "system_slug": str(), "role_id": nstr(),
			"role_name": str(), "assigned_at": ts(), "last_logged_on": nts(), "is_active": boolean(),
		}),
		"UserProfile":      object("A staff user (§4.1).", profile),
		"ValidatedProfile": validated,
		"LoginUser":        object("The user of a staff login answer (§4.2).", login),
		"Redirect": object("Where the browser goes after a login (§4.3).", map[string]schema{
			"primary_system":    nstr(),
			"url":               str(),
			"available_systems": schema{"type": "object", "additionalProperties": str()},
		}),
		"TokenResponse": object("A staff login's tokens (§4.14); the cookies are set too.",
			tokenFields(map[string]schema{"user": apikit.Ref("LoginUser"), "redirect": apikit.Ref("Redirect")}), "access_hs256"),
		"EmployeeTokenResponse": object("An employee login's tokens (§4.14); the cookies are set too.",
			tokenFields(map[string]schema{"employee": apikit.Ref("EmployeeProfile")}), "access_hs256"),
		"RefreshResponse": object("A rotated token pair (§4.14).",
			tokenFields(map[string]schema{"user_type": enumOf("staff", "employee"), "message": str()}), "access_hs256"),
		"OtpChallenge": object("A second factor is needed (§4.15).", map[string]schema{
			"otp_required":    schema{"const": true},
			"temporary_token": str(),
			"methods":         arrayOf(enumOf("totp", "email")),
			"expires_in":      integer(),
			"message":         str(),
			"otp_error":       str(),
		}, "otp_error"),
		"EmployeeProfile": object("An employee (§4.8).", map[string]schema{
			"id": str(), "email": str(), "username": str(), "first_name": str(), "middle_name": nstr(),
			"last_name": str(), "suffix": nstr(), "phone_number": nstr(), "company_id": str(), "department": nstr(),
			"status": enumOf("Pending", "Approved", "Rejected"), "profile_picture": nstr(), "otp_enabled": boolean(),
			"otp_method": nstr(), "last_login": nts(), "created_at": ts(), "updated_at": ts(), "full_name": str(),
			"system_roles": arrayOf(apikit.Ref("SystemRoleItem")),
		}),
		"Session": object("A live session (§4.12).", map[string]schema{
			"id": str(), "user_type": enumOf("staff", "employee"), "current": boolean(), "login_method": str(),
			"ip": str(), "user_agent": str(), "created_at": ts(), "last_used_at": ts(), "expires_at": ts(),
			"absolute_expires_at": ts(),
		}),
		"Message": object("", map[string]schema{"message": str()}),
		"TypedPrincipal": schema{"description": "A staff user or an employee, tagged by type (§5.14.2, §5.12.19).", "oneOf": []any{
			object("", map[string]schema{"type": schema{"const": "user"}, "data": apikit.Ref("UserProfile")}),
			object("", map[string]schema{"type": schema{"const": "employee"}, "data": apikit.Ref("EmployeeProfile")}),
		}},
		"JWKS": object("The public signing keys.", map[string]schema{
			"keys": arrayOf(object("", map[string]schema{
				"kty": enumOf("OKP"), "crv": enumOf("Ed25519"), "x": str(), "kid": str(), "alg": enumOf("EdDSA"), "use": enumOf("sig"),
			})),
		}),
	}
	return map[string]any{
		"schemas": schemas,
		"securitySchemes": map[string]any{
			"bearerAuth": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
				"description": "An access token (EdDSA JWT) in `Authorization: Bearer`."},
			"cookieAuth": map[string]any{"type": "apiKey", "in": "cookie", "name": "access_token",
				"description": "The `access_token` cookie set by the logins; unsafe requests must carry `Origin` (§1.6)."},
			"apiKeyAuth": map[string]any{"type": "apiKey", "in": "header", "name": "X-API-Key",
				"description": "A service API key; the requirement lists the scope it must hold."},
		},
	}
}
