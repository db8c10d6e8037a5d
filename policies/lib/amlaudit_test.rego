package amlaudit.lib_test

import rego.v1
