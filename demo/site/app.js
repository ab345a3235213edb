// Lists how each resource of this page was fetched.
window.addEventListener('load', function () {
  var body = document.querySelector('#protocols tbody');
  performance.getEntries()
    .filter(function (e) { return e.entryType === 'navigation' || e.entryType === 'resource'; })
    .forEach(function (e) {
      var tr = document.createElement('tr');
      var name = document.createElement('td');
      var proto = document.createElement('td');
      name.textContent = new URL(e.name).pathname;
      proto.textContent = e.nextHopProtocol || '(unknown)';
      if (e.nextHopProtocol === 'h3') proto.className = 'h3';
      tr.appendChild(name);
      tr.appendChild(proto);
      body.appendChild(tr);
    });
});
