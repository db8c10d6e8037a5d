package amlaudit.rules.aci_deployments_need_admin_test

import rego.v1
