// Keeps the conversation a link pointed at (/inbox#sess_...) across signing in.
if (location.hash) document.querySelector('input[name="next"]').value = location.hash;
