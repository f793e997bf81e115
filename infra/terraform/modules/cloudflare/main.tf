# Cloudflare Tunnel (remotely managed) that publishes the shop hostname. The
# in-cluster cloudflared runs with the tunnel token (stored in Key Vault by
# the environment) and forwards to the NGINX ingress controller; there is no
# public load balancer or inbound port on Azure at all.
#
# Written against the Cloudflare provider v5 resource model.

resource "cloudflare_zero_trust_tunnel_cloudflared" "this" {
  account_id = var.account_id
  name       = var.tunnel_name
  config_src = "cloudflare"
}

resource "cloudflare_zero_trust_tunnel_cloudflared_config" "this" {
  account_id = var.account_id
  tunnel_id  = cloudflare_zero_trust_tunnel_cloudflared.this.id

  config = {
    ingress = [
      {
        hostname = var.hostname
        service  = var.origin_service
      },
      {
        # Catch-all rule required by cloudflared.
        service = "http_status:404"
      },
    ]
  }
}

resource "cloudflare_dns_record" "this" {
  zone_id = var.zone_id
  name    = var.hostname
  type    = "CNAME"
  content = "${cloudflare_zero_trust_tunnel_cloudflared.this.id}.cfargotunnel.com"
  proxied = true
  ttl     = 1
  comment = "TinyShop: Cloudflare Tunnel to the AKS ingress (managed by Terraform)"
}

data "cloudflare_zero_trust_tunnel_cloudflared_token" "this" {
  account_id = var.account_id
  tunnel_id  = cloudflare_zero_trust_tunnel_cloudflared.this.id
}
