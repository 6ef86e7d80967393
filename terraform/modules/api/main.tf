# The HTTP API: the design's route table with its authorizers, stage throttling, CORS and JSON
# access logs. The local twin's gateway does the same from the same facts; conformance tests
# hold the routes to functions::router::routes, the throttling to the twin's defaults and the
# access log keys to the twin's access log line.
locals {
  # Route key => the function behind it and the authorization the gateway checks: every route
  # but GET /public (its own resource below), and each one authorized.
  routes = {
    "POST /items"            = { function = "items", authorization = "JWT" }
    "GET /items"             = { function = "items", authorization = "JWT" }
    "GET /items/{id}"        = { function = "items", authorization = "JWT" }
    "ANY /internal/{proxy+}" = { function = "items", authorization = "AWS_IAM" }
  }

  # One JSON object a line; the keys are the twin's (local::gateway::access_log::AccessLog).
  # Only what on-call reads (a runbook, a dashboard or a rehearsal queries each key, and
  # requestTime dates the line wherever it is read; a conformance test holds the set to them):
  # the method is in routeKey, and the path, protocol and response length answer no question of
  # theirs (docs/cost.md, The access log).
  access_log_format = {
    requestId               = "$context.requestId"
    ip                      = "$context.identity.sourceIp"
    requestTime             = "$context.requestTime"
    routeKey                = "$context.routeKey"
    status                  = "$context.status"
    responseLatency         = "$context.responseLatency"
    integrationLatency      = "$context.integrationLatency"
    integrationStatus       = "$context.integrationStatus"
    authorizerError         = "$context.authorizer.error"
    integrationErrorMessage = "$context.integrationErrorMessage"
  }
}

resource "aws_apigatewayv2_api" "http" {
  name          = var.name
  description   = "The items API."
  protocol_type = "HTTP"
  tags          = var.tags

  dynamic "cors_configuration" {
    for_each = length(var.cors_allow_origins) > 0 ? [1] : []

    content {
      allow_origins  = var.cors_allow_origins
      allow_methods  = ["GET", "OPTIONS", "POST"]
      allow_headers  = ["authorization", "content-type", "idempotency-key"]
      expose_headers = ["apigw-requestid", "idempotent-replayed", "location"]
      max_age        = 300
    }
  }
}

# Cognito ID tokens: issuer is the user pool, audience the app client.
resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.http.id
  name             = "cognito"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_integration" "function" {
  for_each = var.functions

  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

# The one route anyone may call. It stands alone so that its checkov skip covers it and nothing
# else: a skip on the for_each resource below would cover every route added there later.
resource "aws_apigatewayv2_route" "public" {
  #checkov:skip=CKV_AWS_309:GET /public answers anyone by contract (functions::router::routes::PUBLIC): it reads no user's data and no AWS resource.
  api_id             = aws_apigatewayv2_api.http.id
  route_key          = "GET /public"
  target             = "integrations/${aws_apigatewayv2_integration.function["public"].id}"
  authorization_type = "NONE"
}

moved {
  from = aws_apigatewayv2_route.route["GET /public"]
  to   = aws_apigatewayv2_route.public
}

resource "aws_apigatewayv2_route" "route" {
  for_each = local.routes

  api_id             = aws_apigatewayv2_api.http.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.function[each.value.function].id}"
  authorization_type = each.value.authorization
  authorizer_id      = each.value.authorization == "JWT" ? aws_apigatewayv2_authorizer.jwt.id : null

  lifecycle {
    precondition {
      condition     = contains(["JWT", "AWS_IAM"], each.value.authorization)
      error_message = "Route ${each.key}: every route here is authorized (JWT or AWS_IAM); only GET /public answers anyone."
    }
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Seven days of access logs is deliberate: on-call reads recent requests, metrics keep the long view.
  #checkov:skip=CKV_AWS_158:Encrypted at rest by CloudWatch Logs' own key; access log lines carry no tokens or bodies.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
  # Standard: on-call's request query reads this group together with the functions' groups
  # (docs/cost.md, Log classes).
  log_group_class = "STANDARD"
  tags            = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
  tags        = var.tags

  # Both limits, always: a route setting without them throttles every request to 0.
  default_route_settings {
    throttling_rate_limit    = var.throttle_rate
    throttling_burst_limit   = var.throttle_burst
    detailed_metrics_enabled = true
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = jsonencode(local.access_log_format)
  }
}

resource "aws_lambda_permission" "api" {
  for_each = var.functions

  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}

# What on-call roles need to call the operator routes (POST /internal/*, e.g. opsctl reemit):
# API Gateway's AWS_IAM authorizer checks the SigV4 signer for execute-api:Invoke on exactly
# this method and path. Attach the policy to the on-call roles; nothing else may call them.
data "aws_iam_policy_document" "internal_invoke" {
  statement {
    sid       = "InvokeOperatorRoutes"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_apigatewayv2_api.http.execution_arn}/${aws_apigatewayv2_stage.default.name}/POST/internal/*"]
  }
}

resource "aws_iam_policy" "internal_invoke" {
  name        = "${var.name}-internal-invoke"
  description = "Calls the operator routes of ${var.name} (POST /internal/*), for on-call roles."
  policy      = data.aws_iam_policy_document.internal_invoke.json
  tags        = var.tags
}
