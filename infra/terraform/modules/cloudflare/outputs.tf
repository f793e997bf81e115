output "tunnel_id" {
  description = "Id of the Cloudflare Tunnel."
  value       = cloudflare_zero_trust_tunnel_cloudflared.this.id
}

output "tunnel_token" {
  description = "Token cloudflared runs with (stored in Key Vault as cloudflare-tunnel-token)."
  value       = data.cloudflare_zero_trust_tunnel_cloudflared_token.this.token
  sensitive   = true
}

output "hostname" {
  description = "Public hostname of the shop."
  value       = var.hostname
}
