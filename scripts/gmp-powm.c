/* Time the two modular exponentiations of strongSwan 5.9.8's gmp plugin (gmp_diffie_hellman.c) for
   MODP-2048: key generation (create_generic: ya = g^xa mod p) and shared secret (get_shared_secret:
   zz = yb^xa mod p), both mpz_powm_sec with an exponent of exp_len = 256 octets, MSB cleared
   (key_exchange.c diffie_hellman_init, dh_exponent_ansi_x9_42 = yes). docs/cpu.md.
   Build and run: cc -O2 scripts/gmp-powm.c -o /tmp/gmp-powm -lgmp && /tmp/gmp-powm */
#include <gmp.h>
#include <stdio.h>
#include <time.h>
static const char *P2048 =
"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
"83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
"E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
"15728E5A8AACAA68FFFFFFFFFFFFFFFF";
static double now(void){struct timespec t;clock_gettime(CLOCK_THREAD_CPUTIME_ID,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(void){
  mpz_t p,g,xa,ya,xb,yb,zz; gmp_randstate_t r; int i,n=200; double t0,tk=0,ts=0;
  mpz_inits(p,g,xa,ya,xb,yb,zz,NULL); mpz_set_str(p,P2048,16); mpz_set_ui(g,2);
  gmp_randinit_default(r); gmp_randseed_ui(r,1);
  for(i=0;i<n;i++){
    mpz_urandomb(xa,r,2047); mpz_urandomb(xb,r,2047);
    mpz_powm_sec(yb,g,xb,p);
    t0=now(); mpz_powm_sec(ya,g,xa,p); tk+=now()-t0;
    t0=now(); mpz_powm_sec(zz,yb,xa,p); ts+=now()-t0;
  }
  printf("gmp %s: keygen %.3f ms, secret %.3f ms, ratio secret/keygen %.3f (%d each, thread CPU time)\n",
         gmp_version, tk/n*1e3, ts/n*1e3, ts/tk, n);
  return 0;
}
