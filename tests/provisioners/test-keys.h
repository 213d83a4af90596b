/* SPDX-License-Identifier: MIT */
/* Real public keys (generated with ssh-keygen for these tests; the private halves were discarded). */
#pragma once

#define KEY_ED25519                                                                                         \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEa6d6w+pAnPZ3WeGUinoyZ0E1BvVAYwMPrxXK2QCejh user@ed25519"
#define KEY_ED25519_BLOB "AAAAC3NzaC1lZDI1NTE5AAAAIEa6d6w+pAnPZ3WeGUinoyZ0E1BvVAYwMPrxXK2QCejh"
#define KEY_ECDSA256                                                                                        \
        "ecdsa-sha2-nistp256 "                                                                              \
        "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLtkg74Qc9z7S4udvQlu9vKTeqXy"                  \
        "WGXM/FlRWhsZkp/DOXKjvew0mgkwhrMPNBv08IZBJ43bYFgfRW6qnyxs6L4= user@ecdsa256"
#define KEY_ECDSA384                                                                                        \
        "ecdsa-sha2-nistp384 "                                                                              \
        "AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBA/7AQ8+q5ej6ekQ6H5kz2y9b+3E"                  \
        "2pXZgiTg0VDEg880trpDPbdNHE9/4wOHJIvJg+49E3FYsbKcgI6uMB6qjkFnDfbrrcJUu3PabFo0XXH9/MCfDyvICj6//"     \
        "f7K9aq7"                                                                                           \
        "Sw== user@ecdsa384"
#define KEY_ECDSA521                                                                                        \
        "ecdsa-sha2-nistp521 "                                                                              \
        "AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAGcBNEJ8L1xurA8SbJ8egxEp4Oo"                  \
        "REwq1tyGrvOxOEIGpW2vDI3meTBDmlaCvKMY7HqmxJZo1HZ7UcFnUatlAnGMSAFObRPBMJCXrmTwdrJ/"                  \
        "aLhkUIBFWC6hvIyr+yhV"                                                                              \
        "1wT4xT9vrpq7p4MOOlZSRhsJ4xPmGeTDa4dYt0unkeSFFd4b8Q== user@ecdsa521"
#define KEY_RSA                                                                                             \
        "ssh-rsa "                                                                                          \
        "AAAAB3NzaC1yc2EAAAADAQABAAABAQC9nedQtOz0C5yxCd5z2/DmAF0OMUlyxSTCR9/6QwEgTYYLMC1DXs47icEv1jFg"      \
        "OXwAMbb8Parwg3JjdtlXelNNtOfUFVKeeNxVJzFFJ+cJGR8rOJaqjTvxbXqWPVIwFaIUkpzkVO3GV7Kyad7/"              \
        "D2QGLwVQwL4sKdto"                                                                                  \
        "sjq/fhxVHhUHzVEXvxoDTs3fkU1roAiW8NW1v0OooF1q/E9Z2fkAOUxyAWePtlhz0/W5AMeOMHc/Ojj4FdikYn740eo+/"     \
        "95dfh7l"                                                                                           \
        "95/3WP3/ticBPLWM7DK3OxeNBciFYh5bq/T/6YtT4tJMd5NJwTErypoCi9xB7KQNtoTozWOyJYE4mldp user@rsa2048"
/* A security-key ed25519 blob built by hand: string type, string 32-byte key, string application. */
#define KEY_SK_ED25519                                                                                      \
        "sk-ssh-ed25519@openssh.com "                                                                       \
        "AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIAABAgMEBQYHCAkKCwwNDg8QERITFBUW"                      \
        "FxgZGhscHR4fAAAABHNzaDo= sk@test"
#define KEY_DSA                                                                                             \
        "ssh-dss "                                                                                          \
        "AAAAB3NzaC1kc3MAAACBALM96ckSI5axhJDurXkKMXXVXVDckXWaXj2cy59hCfQqBaDUcNysJg3tGq+iNPjkWHWpf0Ud"      \
        "FHV+Fp0YMSpNnbeo8Om9zLOrqzoypMJRFzRuvjFRote2myav4gJIBdKgSRi9IpVN0DWWlak7hNXWblcnCiXeH+c/ahH40/"    \
        "CyE5cL"                                                                                            \
        "AAAAFQD3EZSURVuntQsDzg44FH74g5IiRQAAAIA2XJFg3c43pW3puZAx2LJdjSlAVCj/"                              \
        "bCj1b4UP9AdLRcUDUHMYgSbqdi7MB6l7"                                                                  \
        "drkLRze+UPYHMvYaYleLg9aDXOKQq0/"                                                                   \
        "jgWpRB9GUG4Kh8SCPj37zjGvk+5BaKjlIqfybnST2H02AlzVyCMoNDaDdH+NCLMfxyr9j"                             \
        "Zv3sZ/WXNwAAAIBqwAEItSs1PPHckGvfGGvzA1IlsRcgq15s/7Aut/jyrNjEKB5jqVuoAFtxA3E2+hvS/"                 \
        "6XVUUGii2muh6jHMQHG"                                                                               \
        "2g0lx5I0L0SFlM6ltsFeSeYGyA25bd9+uWdRPZ/SG99wbae8/T1Bij0h/9on/DI3h5ELCLWv1ga6qDyRJVNk2g== "         \
        "user@dsa1024"
