package amlaudit.rules.acr_admin_user_disabled_test

import rego.v1
