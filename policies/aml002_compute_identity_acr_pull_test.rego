package amlaudit.rules.compute_identity_acr_pull_test

import rego.v1
