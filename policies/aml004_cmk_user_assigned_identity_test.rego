package amlaudit.rules.cmk_user_assigned_identity_test

import rego.v1
