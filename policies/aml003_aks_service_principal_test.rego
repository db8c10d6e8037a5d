package amlaudit.rules.aks_service_principal_test

import rego.v1
