"""CustomerSLO manifests for tests: a valid SLO with any spec field replaced."""

from __future__ import annotations

from typing import Any

from alertplane.model.slo import CustomerSLO

ERRORS = 'sum(rate(http_requests_total{{customer_id="{c}", code=~"5.."}}[{{{{.window}}}}]))'
TOTAL = 'sum(rate(http_requests_total{{customer_id="{c}"}}[{{{{.window}}}}]))'


def slo(customer: str = "acme", name: str = "checkout", **spec: Any) -> dict[str, Any]:
    """A CustomerSLO manifest; `spec` keys (camelCase) replace the defaults' (None drops)."""
    body: dict[str, Any] = {
        "customerId": customer,
        "sloName": name,
        "objective": 99.9,
        "sli": {
            "events": {
                "errorQuery": ERRORS.format(c=customer),
                "totalQuery": TOTAL.format(c=customer),
            }
        },
        "alerting": {
            "pageAlertName": "CheckoutBudgetBurn",
            "ticketAlertName": "CheckoutBudgetBurn",
        },
    }
    for key, value in spec.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return {
        "apiVersion": "alertplane.io/v1alpha1",
        "kind": "CustomerSLO",
        "metadata": {"name": f"{customer}-{name}", "namespace": customer},
        "spec": body,
    }


def slo_obj(customer: str = "acme", name: str = "checkout", **spec: Any) -> CustomerSLO:
    return CustomerSLO.model_validate(slo(customer, name, **spec))


def slo_spec(customer: str = "acme", name: str = "checkout", **over: Any) -> dict[str, Any]:
    """The spec as the REST API takes it (the customer is the path's)."""
    spec = slo(customer, name, **over)["spec"]
    del spec["customerId"]
    return spec
