package amlaudit.rules.private_acr_image_build_test

import rego.v1
