package signin

// resetPageFile is the reset-password page of pb_public (§5.15.8), also the HTML variant of
// GET /api/v1/users/password/reset/ (§5.6.3).
const resetPageFile = "reset-password/index.html"
