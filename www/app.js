// Marks the page as scripted and checks that a subresource loads.
document.getElementById('status').textContent = 'scripts ran';
document.getElementById('status').className = 'ok';
fetch('/bytes/64').then(function (r) { return r.text(); }).then(function (t) {
  var p = document.createElement('p');
  p.id = 'fetched';
  p.textContent = 'fetched ' + t.length + ' bytes';
  document.querySelector('main').appendChild(p);
});
