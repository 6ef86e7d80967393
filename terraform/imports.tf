# Adopting what already exists instead of failing with "already exists": a first apply that
# stopped half-way (the log groups are made first, and Lambda makes its own if it ran before
# them), a table or user pool kept when an earlier stack was destroyed. Each block imports only
# when var.adopt_existing asks for it (for_each over an empty set imports nothing), and the ids
# are the names this stack gives, so that what is adopted is what it would have made. Once
# applied, the resources are in state and the setting can go back to its default.
#
#   terraform plan -var='adopt_existing={table=true, log_groups=true, user_pool_id="us-east-1_AbC123"}'

import {
  for_each = var.adopt_existing.table ? toset([local.names.items_table]) : toset([])

  to = module.data.aws_dynamodb_table.items
  id = each.value
}

import {
  for_each = var.adopt_existing.user_pool_id == null ? toset([]) : toset([var.adopt_existing.user_pool_id])

  to = module.auth.aws_cognito_user_pool.users
  id = each.value
}

# The functions' log groups, by function key: /aws/lambda/<name>-items, -public and -item-events.
import {
  for_each = var.adopt_existing.log_groups ? toset(["items", "public", "item-events"]) : toset([])

  to = module.functions.aws_cloudwatch_log_group.function[each.key]
  id = "/aws/lambda/${var.name}-${each.key}"
}

import {
  for_each = var.adopt_existing.log_groups ? toset(["/aws/apigateway/${var.name}"]) : toset([])

  to = module.api.aws_cloudwatch_log_group.access
  id = each.value
}

import {
  for_each = var.adopt_existing.log_groups ? toset([local.names.archive_log_group]) : toset([])

  to = module.events.aws_cloudwatch_log_group.archive
  id = each.value
}
